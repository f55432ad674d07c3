"""train: LightGBM on the Spark features; logs metrics, importance, native and pyfunc models."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.avazu_ctr.config import AvazuConfig
from jobs.paths import RunContext, write_table
from jobs.resources import cpu_count
from models.ctr.features import RAW_INPUTS, transform
from models.ctr.model import LgbmParams, TrainResult, binary_metrics, train_lgbm

log = logging.getLogger(__name__)


def load_split(features_path: str | Path, split: str) -> pd.DataFrame:
    """One split of the features written by the features job."""
    data = Path(features_path) / "data" / f"split={split}"
    if not data.is_dir():
        raise FileNotFoundError(f"no {split} split under {Path(features_path) / 'data'}")
    return pd.read_parquet(data)


def params_from(cfg: AvazuConfig) -> LgbmParams:
    return LgbmParams(
        learning_rate=cfg.learning_rate, num_leaves=cfg.num_leaves, min_data_in_leaf=cfg.min_data_in_leaf,
        num_boost_round=cfg.num_boost_round, early_stopping_rounds=cfg.early_stopping_rounds, seed=cfg.seed,
        num_threads=cpu_count(),
    )


def fit(
    features_path: str | Path, cfg: AvazuConfig, feature_list: list[str]
) -> tuple[TrainResult, dict[str, float], pd.DataFrame]:
    """Train on the train split; returns the fit, holdout metrics and holdout predictions."""
    train, hold = load_split(features_path, "train"), load_split(features_path, "holdout")
    result = train_lgbm(train[feature_list], train["click"].to_numpy(), params_from(cfg))
    p = result.booster.predict(hold[feature_list], num_iteration=result.best_iteration)
    metrics = binary_metrics(hold["click"].to_numpy(), p)
    preds = pd.DataFrame({"id": hold["id"].to_numpy(), "click": hold["click"].to_numpy(), "p_click": p})
    return result, metrics, preds


def log_model(result: TrainResult, features_path: str, sample_path: str) -> str:
    """Log the native LightGBM text model and the raw-rows pyfunc; returns the pyfunc's URI."""
    import mlflow
    import pyarrow.parquet as pq
    from mlflow.models import infer_signature

    from jobs.avazu_ctr.features import read_tables
    from jobs.model_code import log_pyfunc

    example = next(pq.ParquetFile(sample_path).iter_batches(batch_size=5, columns=list(RAW_INPUTS))).to_pandas()
    with tempfile.TemporaryDirectory() as tmp:
        booster_file = Path(tmp) / "lightgbm_model.txt"
        result.booster.save_model(str(booster_file), num_iteration=result.best_iteration)
        mlflow.log_artifact(str(booster_file), "native")
        tables = read_tables(Path(features_path) / "encodings")
        preds = result.booster.predict(transform(example, tables), num_iteration=result.best_iteration)
        signature = infer_signature(example, preds)
        info = log_pyfunc(
            "model", "ctr",
            artifacts={"encodings": str(Path(features_path) / "encodings"), "booster": str(booster_file)},
            signature=signature,
            input_example=example,
        )
    return info.model_uri


def run(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Train, log everything to the task's MLflow run, return the model URI and holdout AUC."""
    import json

    import mlflow

    from jobs.plots import importance_png

    manifest = json.loads((Path(state["features_path"]) / "manifest.json").read_text())
    result, metrics, preds = fit(state["features_path"], cfg, manifest["features"])
    log.info("train: holdout AUC %.4f, logloss %.4f, best iteration %d, %.1f s",
             metrics["auc"], metrics["logloss"], result.best_iteration, result.seconds)
    run_dir = ctx.run_dir / "train"
    preds_path = write_table(preds, run_dir / "holdout_predictions.parquet")

    mlflow.log_params({**params_from(cfg).booster_params(), "num_boost_round": cfg.num_boost_round,
                       "early_stopping_rounds": cfg.early_stopping_rounds, "split": cfg.split,
                       "use_id_encodings": cfg.use_id_encodings, "n_features": len(manifest["features"])})
    mlflow.log_metrics({f"holdout_{k}": v for k, v in metrics.items()})
    mlflow.log_metrics({"best_iteration": result.best_iteration, "train_seconds": result.seconds,
                        "valid_auc": result.valid_auc, "train_rows": manifest["rows"]["train"],
                        "holdout_rows": manifest["rows"]["holdout"]})
    # Kept in the run folder (next to the holdout predictions): the report page of the last step shows them.
    imp_csv = write_table(result.importance, run_dir / "feature_importance.csv")
    mlflow.log_artifact(str(imp_csv), "importance")
    mlflow.log_artifact(str(importance_png(result.importance, run_dir / "feature_importance.png")), "importance")
    model_uri = log_model(result, state["features_path"], state["sample_path"])
    return {**state, "model_uri": model_uri, "train_run_id": mlflow.active_run().info.run_id,
            "holdout_auc": metrics["auc"], "best_iteration": result.best_iteration,
            "holdout_predictions": str(preds_path)}
