"""The run-invariant settings of the avazu_ctr pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.config import build_config, require
from jobs.kaggle import SOURCES

PIPELINE = "avazu_ctr"
EXPERIMENT = "avazu_ctr"


@dataclass(frozen=True)
class AvazuConfig:
    """Every knob of one avazu_ctr run (profile values overridden by DAG Params).

    Attributes:
        profile: smoke | demo | full.
        source: auto | kaggle | local | synthetic. ``auto`` picks kaggle when credentials
            exist, else synthetic.
        local_path: ``train.csv`` or ``train.gz`` for ``source=local``.
        kaggle_competition, kaggle_file: what ``source=kaggle`` downloads.
        synthetic_rows: rows generated for ``source=synthetic``.
        sample_rows: rows kept by the sampler; 0 keeps every row.
        sample_mode: ``first`` (first N rows) or ``random`` (a seeded uniform sample of exactly N rows, in
            file order, taken in two streaming passes).
        validation_engine: ``auto`` (Spark above ``validation_spark_rows`` rows, else pandas), ``pandas`` or
            ``spark``: which Great Expectations engine runs the raw and feature suites.
        seed: seeds generation, sampling, the split and LightGBM.
        split: ``stratified`` (random, class-balanced) or ``time`` (last day held out).
        holdout_fraction: holdout share for the stratified split, in (0, 0.5].
        use_id_encodings: add count and target encodings of high-cardinality ids.
        encoding_smoothing: prior weight (in rows) of the smoothed target encoding.
        learning_rate, num_leaves, early_stopping_rounds, num_boost_round,
        min_data_in_leaf: LightGBM settings.
        train_in_memory_rows: above this many training rows LightGBM reads the features from Parquet in
            batches (its binned dataset only) instead of a pandas frame.
        model_name: registered model name in MLflow.
    """

    profile: str
    source: str
    local_path: str
    kaggle_competition: str
    kaggle_file: str
    synthetic_rows: int
    sample_rows: int
    sample_mode: str
    validation_engine: str
    validation_spark_rows: int
    seed: int
    split: str
    holdout_fraction: float
    use_id_encodings: bool
    encoding_smoothing: float
    learning_rate: float
    num_leaves: int
    early_stopping_rounds: int
    num_boost_round: int
    min_data_in_leaf: int
    train_in_memory_rows: int
    model_name: str

    def __post_init__(self) -> None:
        checks = [
            (self.source in SOURCES, f"source must be one of {SOURCES}, got {self.source!r}"),
            (self.source != "local" or bool(self.local_path), "source=local needs local_path"),
            (self.synthetic_rows >= 100, f"synthetic_rows must be >= 100, got {self.synthetic_rows}"),
            (self.sample_rows >= 0, f"sample_rows must be >= 0 (0 = all), got {self.sample_rows}"),
            (self.sample_mode in ("first", "random"), f"sample_mode must be first|random, got {self.sample_mode!r}"),
            (self.validation_engine in ("auto", "pandas", "spark"),
             f"validation_engine must be auto|pandas|spark, got {self.validation_engine!r}"),
            (self.validation_spark_rows >= 0, f"validation_spark_rows must be >= 0, got {self.validation_spark_rows}"),
            (self.split in ("stratified", "time"), f"split must be stratified|time, got {self.split!r}"),
            (0.0 < self.holdout_fraction <= 0.5, f"holdout_fraction must be in (0, 0.5], got {self.holdout_fraction}"),
            (self.encoding_smoothing >= 0, f"encoding_smoothing must be >= 0, got {self.encoding_smoothing}"),
            (0.0 < self.learning_rate <= 1.0, f"learning_rate must be in (0, 1], got {self.learning_rate}"),
            (2 <= self.num_leaves <= 4096, f"num_leaves must be in [2, 4096], got {self.num_leaves}"),
            (self.early_stopping_rounds >= 1, f"early_stopping_rounds must be >= 1, got {self.early_stopping_rounds}"),
            (self.num_boost_round >= 1, f"num_boost_round must be >= 1, got {self.num_boost_round}"),
            (self.min_data_in_leaf >= 1, f"min_data_in_leaf must be >= 1, got {self.min_data_in_leaf}"),
            (self.train_in_memory_rows >= 0, f"train_in_memory_rows must be >= 0, got {self.train_in_memory_rows}"),
        ]
        require("AvazuConfig", checks)


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> AvazuConfig:
    """Config for ``profile`` with ``overrides`` (None values mean 'profile default')."""
    return build_config(AvazuConfig, PIPELINE, profile, overrides)
