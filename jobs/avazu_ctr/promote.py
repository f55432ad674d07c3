"""evaluate_and_promote: score the new model and the champion on the same holdout, then register.

The new model is scored through its pyfunc (raw rows in), exactly as it will be served,
and must reproduce the training job's holdout predictions (a training/serving skew
check). It is registered only after every check passed; the alias ``champion`` moves
to it only if its holdout AUC is at least the current champion's on the same rows,
otherwise it becomes ``challenger`` (one transaction under the registry lock: jobs.registry).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.avazu_ctr.config import AvazuConfig
from jobs.avazu_ctr.train import load_split
from jobs.paths import RunContext
from jobs.registry import Candidate, promote
from models.common.errors import require_finite

log = logging.getLogger(__name__)

SKEW_TOLERANCE = 1e-6


def holdout_rows(sample_path: str, features_path: str) -> pd.DataFrame:
    """Raw sample rows of the holdout split (what a served model would receive)."""
    ids = load_split(features_path, "holdout")[["id"]]
    return pd.read_parquet(sample_path).merge(ids, on="id", how="inner")


def true_probabilities(ground_truth_path: str | None, rows: pd.DataFrame) -> np.ndarray | None:
    """True click probabilities of ``rows`` from the ground-truth file (synthetic data only)."""
    if not ground_truth_path:
        return None
    truth = pd.read_parquet(ground_truth_path).set_index("id")["p_click"]
    missing = ~rows["id"].isin(truth.index)
    if missing.any():
        raise ValueError(f"ground truth {ground_truth_path} lacks {int(missing.sum())} holdout ids")
    return truth.loc[rows["id"]].to_numpy(np.float64)


def run(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Evaluate, register ``cfg.model_name`` and set its alias; returns version, alias, AUCs."""
    import mlflow
    from sklearn.metrics import roc_auc_score

    from jobs.plots import roc_calibration_png

    rows = holdout_rows(state["sample_path"], state["features_path"])
    y = rows["click"].to_numpy()
    p_new = np.asarray(mlflow.pyfunc.load_model(state["model_uri"]).predict(rows), dtype=np.float64)
    trained = pd.read_parquet(state["holdout_predictions"]).set_index("id").loc[rows["id"], "p_click"].to_numpy()
    skew = float(np.max(np.abs(p_new - trained))) if len(rows) else 0.0
    if skew > SKEW_TOLERANCE:
        raise RuntimeError(f"serving model disagrees with training predictions on the holdout (max |diff| {skew:.3g})")
    auc_new = float(roc_auc_score(y, p_new))
    require_finite(f"{cfg.model_name} holdout of {ctx.run_id}", holdout_auc=auc_new)
    curves = {"new model": p_new}

    def champion_auc(champ: Any) -> float:
        # Scored under the registry lock, so it is the champion the alias is compared with.
        p_champ = np.asarray(mlflow.pyfunc.load_model(f"models:/{cfg.model_name}/{champ.version}").predict(rows))
        curves[f"champion v{champ.version}"] = p_champ
        return float(roc_auc_score(y, p_champ))

    truth = true_probabilities(state.get("ground_truth_path"), rows)
    oracle = None if truth is None else float(roc_auc_score(y, truth))
    tags = {"holdout_auc": f"{auc_new:.6f}", "oracle_auc": f"{oracle:.6f}" if oracle is not None else "n/a",
            "data.sha256": state.get("sample_sha256", ""), "source": state.get("source", "")}
    candidate = Candidate(cfg.model_name, state["model_uri"], auc_new, tags, champion_auc)
    reg = promote([candidate], ctx.run_id)[cfg.model_name]
    auc_champ = reg["champion_score"]
    if truth is not None:
        curves["oracle (true p)"] = truth
    metrics = {"holdout_auc": auc_new, "serving_skew_max": skew}
    if auc_champ is not None:
        metrics["champion_holdout_auc"] = auc_champ
    if oracle is not None:
        metrics.update({"oracle_auc": oracle, "oracle_gap": oracle - auc_new})
    mlflow.log_metrics(metrics)
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.log_artifact(str(roc_calibration_png(y, curves, Path(tmp) / "roc_calibration.png")), "evaluation")
    mlflow.set_tags({"registered_model": cfg.model_name, "registered_version": reg["version"], "alias": reg["alias"]})
    log.info("promote: %s v%s -> @%s (holdout AUC %.4f; champion %s; oracle %s)", cfg.model_name, reg["version"],
             reg["alias"], auc_new, "none" if auc_champ is None else f"{auc_champ:.4f}",
             "n/a" if oracle is None else f"{oracle:.4f}")
    return {**state, "model_name": cfg.model_name, "model_version": reg["version"], "alias": reg["alias"],
            "holdout_auc": auc_new, "champion_auc": auc_champ, "oracle_auc": oracle}
