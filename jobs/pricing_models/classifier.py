"""train_agent_classifier: XGBoost on the 29 session features, labels from the cohorts.

Reported on the holdout: ROC-AUC, PR-AUC, precision and recall at the operating
threshold (chosen on a validation slice of train), reliability, SHAP importance, and,
with ground truth, the AUC against the true class, the oracle AUC of the true P(agent),
and one AUC per agent kind with that kind left out of training.
"""

from __future__ import annotations

import gc
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.paths import RunContext, atomic_path, write_table
from jobs.plots import bar_png, roc_calibration_png
from jobs.pricing_models.config import PricingConfig
from jobs.pricing_models.sessions import (
    gather,
    load_sessions,
    row_groups,
    split_mask,
    truth_of_all_rows,
    validation_mask,
)
from jobs.resources import cpu_count
from models.common.errors import require_finite
from models.pricing.agent_classifier import (
    binary_report,
    operating_threshold,
    predict,
    shap_importance,
    train_booster,
)
from models.pricing.session_features import FEATURES

log = logging.getLogger(__name__)
COLUMNS = FEATURES + ["label"]


def shap_png(imp: pd.DataFrame, path: Path) -> Path:
    top = imp.head(20)
    return bar_png(top["feature"], top["mean_abs_shap"], path, "mean |SHAP value| (log-odds)",
                   "Agent classifier: SHAP importance on the holdout", color="#a5533b")


@contextmanager
def external_memory(path: str, keep: np.ndarray, threads: int) -> Iterator[Any]:
    """The training rows at the ``keep`` positions of the session table as XGBoost's ``ExtMemQuantileDMatrix``:
    they reach XGBoost a row group at a time through a ``DataIter`` and its quantised pages are cached on disk
    (a temporary folder, gone after the block), so the rows never have to fit in memory as one frame."""
    import xgboost as xgb

    class RowGroups(xgb.DataIter):
        def __init__(self, cache_prefix: str) -> None:
            self._it: Iterator[pd.DataFrame] | None = None
            super().__init__(cache_prefix=cache_prefix)

        def next(self, input_data: Callable[..., None]) -> bool:
            if self._it is None:
                self._it = row_groups(path, keep, COLUMNS)
            batch = next(self._it, None)
            if batch is None:
                return False
            input_data(data=batch[FEATURES], label=batch["label"].to_numpy())
            return True

        def reset(self) -> None:
            self._it = None

    with tempfile.TemporaryDirectory(prefix="xgb-extmem-") as cache:
        dtrain = xgb.ExtMemQuantileDMatrix(RowGroups(str(Path(cache) / "train")), nthread=threads)
        try:
            yield dtrain
        finally:
            del dtrain  # its cache files must close before the folder goes
            gc.collect()


def train_streamed(path: str, keep: np.ndarray, valid: pd.DataFrame, cfg: PricingConfig) -> Any:
    """The agent classifier on the ``keep`` rows of the session table (external memory), early-stopped on
    ``valid``."""
    with external_memory(path, keep, cpu_count()) as dtrain:
        return train_booster(dtrain, valid[FEATURES], valid["label"].to_numpy(), cfg.xgb_rounds, cfg.xgb_depth,
                             cfg.xgb_learning_rate, cfg.seed, threads=cpu_count())


def leave_one_kind_out(path: str, kinds: np.ndarray, train: np.ndarray, hold: pd.DataFrame, hold_truth: pd.DataFrame,
                       cfg: PricingConfig) -> dict[str, float]:
    """For each agent kind: train without it, AUC on holdout humans vs that kind (a new kind of bot)."""
    from sklearn.metrics import roc_auc_score

    out = {}
    hold_kinds = hold_truth["kind"].to_numpy()
    for kind in sorted(set(kinds) - {"human"}):
        keep = train & (kinds != kind)
        val = validation_mask(len(kinds), cfg.seed) & keep
        booster = train_streamed(path, keep & ~val, gather(path, val, COLUMNS), cfg)
        test = np.isin(hold_kinds, ["human", kind])
        out[kind] = float(roc_auc_score(hold_truth.loc[test, "is_agent"], predict(booster, hold.loc[test, FEATURES])))
    return out


def run(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Train (the training rows streamed from the session table), report, check the gate; the model is
    registered later by evaluate_and_promote."""
    import mlflow
    import mlflow.xgboost

    path = state["features_path"]
    train = split_mask(path, "train")
    val = validation_mask(len(train), cfg.seed) & train
    v = gather(path, val, COLUMNS)
    booster = train_streamed(path, train & ~val, v, cfg)
    thr = operating_threshold(v["label"].to_numpy(), predict(booster, v[FEATURES]), cfg.gate_precision)
    hold, truth = load_sessions(state, split="holdout")
    p_hold = predict(booster, hold[FEATURES])
    y_hold = hold["label"].to_numpy()
    rep = binary_report(y_hold, p_hold, thr)
    metrics = {f"holdout_{k}": v for k, v in rep.items()}
    metrics["best_iteration"] = booster.best_iteration
    curves = {"xgboost": p_hold}
    if truth is not None:
        from sklearn.metrics import roc_auc_score

        true_y = truth["is_agent"].to_numpy()
        metrics["holdout_roc_auc_vs_truth"] = float(roc_auc_score(true_y, p_hold))
        metrics["oracle_auc"] = float(roc_auc_score(true_y, truth["p_agent"]))
        kinds = truth_of_all_rows(state, "kind")
        metrics.update({f"loko_auc.{k}": v for k, v in leave_one_kind_out(path, kinds, train, hold, truth,
                                                                           cfg).items()})
        for kind in sorted(set(truth["kind"]) - {"human"}):
            m = truth["kind"].isin(["human", kind]).to_numpy()
            metrics[f"holdout_auc.{kind}"] = float(roc_auc_score(true_y[m], p_hold[m]))
        curves["oracle (true P(agent))"] = truth["p_agent"].to_numpy()
    # A NaN would fail ">=" silently and read as a plain miss: say it is not a number.
    require_finite("agent_classifier holdout", roc_auc=rep["roc_auc"], precision=rep["precision"])
    gate = rep["roc_auc"] >= cfg.gate_auc and rep["precision"] >= cfg.gate_precision
    metrics["gate_passed"] = float(gate)
    mlflow.log_metrics(metrics)
    mlflow.log_params(
        {"xgb_rounds": cfg.xgb_rounds, "xgb_depth": cfg.xgb_depth, "xgb_learning_rate": cfg.xgb_learning_rate}
    )
    imp = shap_importance(booster, hold[FEATURES].head(5000))
    # Kept in the run folder: the report page of the last step shows them.
    out = ctx.run_dir / "classifier"
    for path in (roc_calibration_png(y_hold, curves, out / "roc_calibration.png"),
                 shap_png(imp, out / "shap_importance.png"), write_table(imp, out / "shap_importance.csv")):
        mlflow.log_artifact(str(path), "classifier")
    from mlflow.models import infer_signature

    info = mlflow.xgboost.log_model(booster, name="agent_classifier", input_example=hold[FEATURES].head(5),
                                    signature=infer_signature(hold[FEATURES].head(100), p_hold[:100]))
    pred_path = ctx.run_dir / "classifier" / "holdout_predictions.parquet"
    with atomic_path(pred_path) as tmp:
        pd.DataFrame({"sessionId": hold["sessionId"].to_numpy(), "p_agent": p_hold}).to_parquet(
            tmp, index=False
        )
    log.info("agent classifier: %s", {k: round(v, 4) for k, v in metrics.items()})
    return {**state, "classifier_uri": info.model_uri, "classifier_threshold": thr, "classifier_auc": rep["roc_auc"],
            "classifier_precision": rep["precision"], "classifier_gate": gate,
            "classifier_predictions": str(pred_path)}
