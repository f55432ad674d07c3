"""The run-invariant settings of the pricing_models pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.config import build_config, require

PIPELINE = "pricing_models"
EXPERIMENT = "pricing_models"
SOURCES = ("synthetic", "files", "kafka", "served")
MODEL_NAMES = {"classifier": "agent_classifier", "multitask": "pricing_multitask", "rules": "pricing_rules"}


@dataclass(frozen=True)
class PricingConfig:
    """Every knob of one pricing_models run (profile values overridden by DAG Params).

    Attributes:
        source: ``synthetic``, ``files`` (``events_path``: events as JSONL or Parquet plus
            ``offers.jsonl|parquet``), ``kafka`` (``kafka_bootstrap``, ``kafka_topic``) or ``served``
            (the online service's log of the last ``served_days``: events, and its quotes as the offers).
        n_sessions, n_products, label_noise: the synthetic clickstream.
        seed: seeds generation, the split, XGBoost and PyTorch.
        validation_engine: ``auto`` (Spark above ``validation_spark_rows`` events, else pandas), ``pandas`` or
            ``spark``: where the event repairs and the Great Expectations suites run.
        holdout_fraction: share of sessions held out (by a seeded hash of sessionId).
        xgb_rounds, xgb_depth, xgb_learning_rate: the agent classifier.
        gate_auc, gate_precision: minimum holdout ROC-AUC and precision to register it.
        mt_*: the multi-task model (epochs, batch, learning rate, loss weights, patience).
        price_grid_*: candidate prices as multiples of the list price.
        agent_uplift: lambda of the pricing objective p * P(buy | p) * (1 + lambda * P(agent)).
        markup_threshold, markup: the rule P(agent) > threshold -> markup.
        velocity_threshold: the legacy rule it replaces (events per minute).
        tree_depth: depth of the distilled decision tree (<= 5 keeps rules readable).
        tree_fit_rows: at most this many training sessions (a seeded sample) teach the tree.
    """

    profile: str
    source: str
    events_path: str
    kafka_bootstrap: str
    kafka_topic: str
    kafka_max_messages: int
    served_days: int
    n_sessions: int
    n_products: int
    label_noise: float
    seed: int
    validation_engine: str
    validation_spark_rows: int
    holdout_fraction: float
    xgb_rounds: int
    xgb_depth: int
    xgb_learning_rate: float
    gate_auc: float
    gate_precision: float
    mt_epochs: int
    mt_batch: int
    mt_lr: float
    mt_alpha: float
    mt_beta: float
    mt_patience: int
    price_grid_min: float
    price_grid_max: float
    price_grid_steps: int
    agent_uplift: float
    markup_threshold: float
    markup: float
    velocity_threshold: float
    tree_depth: int
    tree_fit_rows: int

    def __post_init__(self) -> None:
        checks = [
            (self.source in SOURCES, f"source must be one of {SOURCES}, got {self.source!r}"),
            (self.source != "files" or bool(self.events_path), "source=files needs events_path"),
            (self.source != "kafka" or bool(self.kafka_bootstrap), "source=kafka needs kafka_bootstrap (broker list)"),
            (self.n_sessions >= 200, f"n_sessions must be >= 200, got {self.n_sessions}"),
            (0 <= self.label_noise < 0.5, f"label_noise must be in [0, 0.5), got {self.label_noise}"),
            (self.validation_engine in ("auto", "pandas", "spark"),
             f"validation_engine must be auto|pandas|spark, got {self.validation_engine!r}"),
            (self.validation_spark_rows >= 0, f"validation_spark_rows must be >= 0, got {self.validation_spark_rows}"),
            (0 < self.holdout_fraction <= 0.5, f"holdout_fraction must be in (0, 0.5], got {self.holdout_fraction}"),
            (self.xgb_rounds >= 1 and 1 <= self.xgb_depth <= 16, "xgb_rounds >= 1 and xgb_depth in [1, 16]"),
            (self.mt_epochs >= 1 and self.mt_batch >= 8 and self.mt_patience >= 1, "mt_epochs, mt_batch, mt_patience"),
            (self.mt_alpha >= 0 and self.mt_beta >= 0, "mt_alpha and mt_beta must be >= 0"),
            (0 < self.price_grid_min < self.price_grid_max, "need 0 < price_grid_min < price_grid_max"),
            (self.price_grid_steps >= 2, "price_grid_steps must be >= 2"),
            (0 < self.markup_threshold < 1, "markup_threshold must be in (0, 1)"),
            (self.tree_fit_rows >= 100, f"tree_fit_rows must be >= 100, got {self.tree_fit_rows}"),
            (1 <= self.tree_depth <= 5, f"tree_depth must be in [1, 5] (readable rules), got {self.tree_depth}"),
        ]
        require("PricingConfig", checks)


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> PricingConfig:
    """Config for ``profile`` with ``overrides`` (None values mean 'profile default')."""
    return build_config(PricingConfig, PIPELINE, profile, overrides)
