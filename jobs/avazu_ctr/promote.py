"""evaluate_and_promote: score the new model and the champion on the same holdout, then register.

The new model is scored through its pyfunc (raw rows in), exactly as it will be served,
and must reproduce the training job's holdout predictions (a training/serving skew
check). It is registered only after every check passed; the alias ``champion`` moves
to it only if its holdout AUC is at least the current champion's on the same rows,
otherwise it becomes ``challenger`` (one transaction under the registry lock: jobs.registry).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from jobs.avazu_ctr.config import AvazuConfig
from jobs.avazu_ctr.train import split_files
from jobs.pages.format import fmt
from jobs.pages.render import Page, Section, formatted, write
from jobs.paths import RunContext
from jobs.registry import Candidate, promote
from models.common.errors import require_finite

log = logging.getLogger(__name__)

SKEW_TOLERANCE = 1e-6


def _rows_with_ids(path: str | Path, ids: pa.Array, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of a Parquet file whose ``id`` is in ``ids``, in file order: scanned batch by batch, so only the
    matches are ever held (a 10M-row sample or a 40M-row truth file never becomes a frame)."""
    table = ds.dataset(str(path), format="parquet").to_table(columns=columns, filter=pc.field("id").isin(ids))
    return table.to_pandas()


def holdout_rows(sample_path: str, features_path: str) -> pd.DataFrame:
    """Raw sample rows of the holdout split (what a served model would receive)."""
    ids = pa.concat_arrays([pq.read_table(f, columns=["id"]).column("id").combine_chunks()
                            for f in split_files(features_path, "holdout")])
    return _rows_with_ids(sample_path, ids)


def true_probabilities(ground_truth_path: str | None, rows: pd.DataFrame) -> np.ndarray | None:
    """True click probabilities of ``rows`` from the ground-truth file (synthetic data only)."""
    if not ground_truth_path:
        return None
    truth = _rows_with_ids(ground_truth_path, pa.array(rows["id"].to_numpy()), ["id", "p_click"]).set_index("id")
    missing = ~rows["id"].isin(truth.index)
    if missing.any():
        raise ValueError(f"ground truth {ground_truth_path} lacks {int(missing.sum())} holdout ids")
    return truth["p_click"].loc[rows["id"]].to_numpy(np.float64)


def page(cfg: AvazuConfig, state: dict[str, Any], reg: dict[str, Any], y: np.ndarray, p: np.ndarray,
         metrics: dict[str, float], roc: Path) -> Page:
    """The CTR model's page: AUC against the oracle and the champion, calibration, what drives it."""
    train_dir = Path(state["holdout_predictions"]).parent
    importance = pd.read_csv(train_dir / "feature_importance.csv")
    auc, oracle, champ = metrics["holdout_auc"], metrics.get("oracle_auc"), metrics.get("champion_holdout_auc")
    top = importance.sort_values(importance.columns[1], ascending=False).head(5)[importance.columns[0]].tolist()
    findings = [
        f"{cfg.model_name} v{reg['version']} is now {reg['alias']}: holdout AUC {fmt(auc, 'ratio')} on "
        f"{fmt(len(y), 'count')} impressions" + (f" against the champion's {fmt(champ, 'ratio')}." if champ is not None
                                                  else " (no champion before it)."),
        (f"The true click probabilities reach AUC {fmt(oracle, 'ratio')}: the model is {fmt(oracle - auc, 'ratio')} "
         "below the best any model could do on this data." if oracle is not None
         else "No ground truth for this data: the oracle AUC is not known."),
        f"Calibration: mean predicted CTR {fmt(float(p.mean()), 'rate')} against {fmt(float(y.mean()), 'rate')} "
        "observed on the holdout.",
        f"Strongest features: {', '.join(top)}.",
    ]
    names = {"holdout_auc": "holdout AUC", "serving_skew_max": "largest serving vs training difference",
             "champion_holdout_auc": "champion's holdout AUC", "oracle_auc": "oracle AUC (true p)",
             "oracle_gap": "gap to the oracle"}
    table = pd.DataFrame({"metric": [names.get(k, k) for k in metrics], "value": [fmt(v, "number")
                                                                                  for v in metrics.values()]})
    return Page(
        title=f"CTR model: {cfg.model_name} v{reg['version']}",
        subtitle=f"Source {state.get('source', '')}; {fmt(len(y), 'count')} holdout impressions; data "
                 f"{str(state.get('sample_sha256', ''))[:12]}.",
        findings=findings,
        sections=[Section("Ranking and calibration", "ROC curves and predicted against observed CTR.", [roc], table),
                  Section("What drives the model", "", [train_dir / "feature_importance.png"],
                          formatted(importance.head(15), {"gain": "number", "splits": "count",
                                                          "gain_share": "pct"}))],
        details={"Feature importance": importance},
    )


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
    out = ctx.run_dir / "evaluation"
    roc = roc_calibration_png(y, curves, out / "roc_calibration.png")
    mlflow.log_artifact(str(roc), "evaluation")
    html = write(page(cfg, state, reg, y, p_new, metrics, roc), out / "report.html")
    mlflow.log_artifact(str(html), "report")
    mlflow.set_tags({"registered_model": cfg.model_name, "registered_version": reg["version"], "alias": reg["alias"]})
    log.info("promote: %s v%s -> @%s (holdout AUC %.4f; champion %s; oracle %s)", cfg.model_name, reg["version"],
             reg["alias"], auc_new, "none" if auc_champ is None else f"{auc_champ:.4f}",
             "n/a" if oracle is None else f"{oracle:.4f}")
    return {**state, "model_name": cfg.model_name, "model_version": reg["version"], "alias": reg["alias"],
            "holdout_auc": auc_new, "champion_auc": auc_champ, "oracle_auc": oracle}
