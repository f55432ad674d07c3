"""train_agent_classifier: XGBoost on the 29 session features, labels from the cohorts.

Reported on the holdout: ROC-AUC, PR-AUC, precision and recall at the operating
threshold (chosen on a validation slice of train), reliability, SHAP importance, and,
with ground truth, the AUC against the true class, the oracle AUC of the true P(agent),
and one AUC per agent kind with that kind left out of training.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.paths import RunContext, atomic_path, write_table
from jobs.plots import bar_png, roc_calibration_png
from jobs.pricing_models.config import PricingConfig
from jobs.resources import cpu_count
from models.common.errors import require_finite
from models.common.streams import stream
from models.pricing.agent_classifier import binary_report, operating_threshold, predict, shap_importance, train_booster
from models.pricing.session_features import FEATURES

log = logging.getLogger(__name__)


def load_sessions(state: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Session features (with split and label) and, for synthetic data, the truth aligned to them."""
    df = pd.read_parquet(state["features_path"])
    if not state.get("truth_path"):
        return df, None
    truth = pd.read_parquet(state["truth_path"]).set_index("sessionId").loc[df["sessionId"]].reset_index()
    return df, truth


def validation_mask(n: int, seed: int, share: float = 0.15) -> np.ndarray:
    return stream(seed, "pricing.split").random(n) < share


def shap_png(imp: pd.DataFrame, path: Path) -> Path:
    top = imp.head(20)
    return bar_png(top["feature"], top["mean_abs_shap"], path, "mean |SHAP value| (log-odds)",
                   "Agent classifier: SHAP importance on the holdout", color="#a5533b")


def leave_one_kind_out(df: pd.DataFrame, truth: pd.DataFrame, cfg: PricingConfig) -> dict[str, float]:
    """For each agent kind: train without it, AUC on holdout humans vs that kind (a new kind of bot)."""
    from sklearn.metrics import roc_auc_score

    out = {}
    train, hold = (df["split"] == "train").to_numpy(), (df["split"] == "holdout").to_numpy()
    kinds = truth["kind"].to_numpy()
    for kind in sorted(set(kinds) - {"human"}):
        keep = train & (kinds != kind)
        val = validation_mask(len(df), cfg.seed) & keep
        fit = keep & ~val
        booster = train_booster(df.loc[fit, FEATURES], df.loc[fit, "label"].to_numpy(), df.loc[val, FEATURES],
                                df.loc[val, "label"].to_numpy(), cfg.xgb_rounds, cfg.xgb_depth, cfg.xgb_learning_rate,
                                cfg.seed, threads=cpu_count())
        test = hold & np.isin(kinds, ["human", kind])
        out[kind] = float(roc_auc_score(truth.loc[test, "is_agent"], predict(booster, df.loc[test, FEATURES])))
    return out


def run(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Train, report, check the gate; the model is registered later by evaluate_and_promote."""
    import mlflow
    import mlflow.xgboost

    df, truth = load_sessions(state)
    train = (df["split"] == "train").to_numpy()
    val = validation_mask(len(df), cfg.seed) & train
    fit, hold = train & ~val, (df["split"] == "holdout").to_numpy()
    booster = train_booster(
        df.loc[fit, FEATURES],
        df.loc[fit, "label"].to_numpy(),
        df.loc[val, FEATURES],
        df.loc[val, "label"].to_numpy(),
        cfg.xgb_rounds,
        cfg.xgb_depth,
        cfg.xgb_learning_rate,
        cfg.seed,
        threads=cpu_count(),
    )
    thr = operating_threshold(
        df.loc[val, "label"].to_numpy(), predict(booster, df.loc[val, FEATURES]), cfg.gate_precision
    )
    p_hold = predict(booster, df.loc[hold, FEATURES])
    y_hold = df.loc[hold, "label"].to_numpy()
    rep = binary_report(y_hold, p_hold, thr)
    metrics = {f"holdout_{k}": v for k, v in rep.items()}
    metrics["best_iteration"] = booster.best_iteration
    curves = {"xgboost": p_hold}
    if truth is not None:
        from sklearn.metrics import roc_auc_score

        true_y = truth.loc[hold, "is_agent"].to_numpy()
        metrics["holdout_roc_auc_vs_truth"] = float(roc_auc_score(true_y, p_hold))
        metrics["oracle_auc"] = float(roc_auc_score(true_y, truth.loc[hold, "p_agent"]))
        metrics.update({f"loko_auc.{k}": v for k, v in leave_one_kind_out(df, truth, cfg).items()})
        for kind in sorted(set(truth["kind"]) - {"human"}):
            m = hold & truth["kind"].isin(["human", kind]).to_numpy()
            metrics[f"holdout_auc.{kind}"] = float(
                roc_auc_score(truth.loc[m, "is_agent"], predict(booster, df.loc[m, FEATURES]))
            )
        curves["oracle (true P(agent))"] = truth.loc[hold, "p_agent"].to_numpy()
    # A NaN would fail ">=" silently and read as a plain miss: say it is not a number.
    require_finite("agent_classifier holdout", roc_auc=rep["roc_auc"], precision=rep["precision"])
    gate = rep["roc_auc"] >= cfg.gate_auc and rep["precision"] >= cfg.gate_precision
    metrics["gate_passed"] = float(gate)
    mlflow.log_metrics(metrics)
    mlflow.log_params(
        {"xgb_rounds": cfg.xgb_rounds, "xgb_depth": cfg.xgb_depth, "xgb_learning_rate": cfg.xgb_learning_rate}
    )
    imp = shap_importance(booster, df.loc[hold, FEATURES].head(5000))
    # Kept in the run folder: the report page of the last step shows them.
    out = ctx.run_dir / "classifier"
    for path in (roc_calibration_png(y_hold, curves, out / "roc_calibration.png"),
                 shap_png(imp, out / "shap_importance.png"), write_table(imp, out / "shap_importance.csv")):
        mlflow.log_artifact(str(path), "classifier")
    from mlflow.models import infer_signature

    info = mlflow.xgboost.log_model(booster, name="agent_classifier", input_example=df.loc[hold, FEATURES].head(5),
                                    signature=infer_signature(df.loc[hold, FEATURES].head(100), p_hold[:100]))
    pred_path = ctx.run_dir / "classifier" / "holdout_predictions.parquet"
    with atomic_path(pred_path) as tmp:
        pd.DataFrame({"sessionId": df.loc[hold, "sessionId"].to_numpy(), "p_agent": p_hold}).to_parquet(
            tmp, index=False
        )
    log.info("agent classifier: %s", {k: round(v, 4) for k, v in metrics.items()})
    return {**state, "classifier_uri": info.model_uri, "classifier_threshold": thr, "classifier_auc": rep["roc_auc"],
            "classifier_precision": rep["precision"], "classifier_gate": gate,
            "classifier_predictions": str(pred_path)}
