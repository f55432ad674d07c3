"""train: LightGBM on the Spark features; logs metrics, importance, native and pyfunc models."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.avazu_ctr.config import AvazuConfig
from jobs.paths import RunContext, write_table
from jobs.resources import cpu_count
from models.ctr.features import RAW_INPUTS, transform
from models.ctr.model import LgbmParams, TrainResult, binary_metrics, train_lgbm, train_lgbm_rows

log = logging.getLogger(__name__)


def load_split(features_path: str | Path, split: str) -> pd.DataFrame:
    """One split of the features written by the features job."""
    data = Path(features_path) / "data" / f"split={split}"
    if not data.is_dir():
        raise FileNotFoundError(f"no {split} split under {Path(features_path) / 'data'}")
    return pd.read_parquet(data)


def as_matrix(table: pa.Table, columns: list[str]) -> np.ndarray:
    """``columns`` of an Arrow table as one float64 matrix, as LightGBM converts the pandas frame (the target
    encodings are doubles)."""
    return np.column_stack([table.column(c).to_numpy().astype(np.float64) for c in columns])


class ParquetRows(lgb.Sequence):
    """Rows ``index`` (sorted positions over the files in order) of ``columns`` of a folder of Parquet files, as
    a LightGBM ``Sequence``: read one row group at a time and keep only the last one decoded, so memory is one
    row group whatever the data's size. LightGBM's accesses are in increasing order (its sorted bin sample,
    then batches), so each row group is decoded about once per pass."""

    batch_size = 65_536

    def __init__(self, files: list[Path], columns: list[str], index: np.ndarray) -> None:
        self.columns, self.index = columns, np.asarray(index, dtype=np.int64)
        self.groups: list[tuple[Path, int]] = []
        starts = [0]
        for f in files:
            meta = pq.ParquetFile(f).metadata
            for g in range(meta.num_row_groups):
                self.groups.append((f, g))
                starts.append(starts[-1] + meta.row_group(g).num_rows)
        self.starts = np.asarray(starts, dtype=np.int64)
        self._cached: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def _group(self, g: int) -> np.ndarray:
        if self._cached is None or self._cached[0] != g:
            path, rg = self.groups[g]
            table = pq.ParquetFile(path).read_row_group(rg, columns=self.columns)
            self._cached = (g, as_matrix(table, self.columns))
        return self._cached[1]

    def __getitem__(self, idx: Any) -> np.ndarray:
        if isinstance(idx, (int, np.integer)):
            pos = self.index[idx]
            g = int(np.searchsorted(self.starts, pos, side="right") - 1)
            return self._group(g)[pos - self.starts[g]]
        rows = self.index[idx] if isinstance(idx, slice) else self.index[np.asarray(idx)]
        group_of = np.searchsorted(self.starts, rows, side="right") - 1
        parts = [self._group(int(g))[rows[group_of == g] - self.starts[g]] for g in np.unique(group_of)]
        return np.concatenate(parts) if parts else np.empty((0, len(self.columns)))


def split_files(features_path: str | Path, split: str) -> list[Path]:
    """The Parquet files of one split of the features, in a fixed order."""
    data = Path(features_path) / "data" / f"split={split}"
    files = sorted(data.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no {split} split under {Path(features_path) / 'data'}")
    return files


def params_from(cfg: AvazuConfig) -> LgbmParams:
    return LgbmParams(
        learning_rate=cfg.learning_rate, num_leaves=cfg.num_leaves, min_data_in_leaf=cfg.min_data_in_leaf,
        num_boost_round=cfg.num_boost_round, early_stopping_rounds=cfg.early_stopping_rounds, seed=cfg.seed,
        num_threads=cpu_count(),
    )


def fit(
    features_path: str | Path, cfg: AvazuConfig, feature_list: list[str]
) -> tuple[TrainResult, dict[str, float], pd.DataFrame]:
    """Train on the train split; returns the fit, holdout metrics and holdout predictions. Above
    ``train_in_memory_rows`` training rows LightGBM reads the features from Parquet in batches and the holdout
    is scored a row group at a time (:func:`fit_out_of_core`)."""
    train_files = split_files(features_path, "train")
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in train_files)
    if rows > cfg.train_in_memory_rows:
        return fit_out_of_core(features_path, cfg, feature_list)
    train, hold = load_split(features_path, "train"), load_split(features_path, "holdout")
    result = train_lgbm(train[feature_list], train["click"].to_numpy(), params_from(cfg))
    p = result.booster.predict(hold[feature_list], num_iteration=result.best_iteration)
    metrics = binary_metrics(hold["click"].to_numpy(), p)
    preds = pd.DataFrame({"id": hold["id"].to_numpy(), "click": hold["click"].to_numpy(), "p_click": p})
    return result, metrics, preds


def fit_out_of_core(
    features_path: str | Path, cfg: AvazuConfig, feature_list: list[str]
) -> tuple[TrainResult, dict[str, float], pd.DataFrame]:
    """:func:`fit` without a frame of the splits: LightGBM bins from its sample and pushes the training rows in
    batches (:class:`ParquetRows`); only the labels, the binned dataset and one row group are in memory."""
    files = split_files(features_path, "train")
    y = pq.ParquetDataset([str(f) for f in files]).read(columns=["click"]).column("click").to_numpy()
    log.info("train: %s rows from Parquet in batches (above train_in_memory_rows %s)", f"{len(y):,}",
             f"{cfg.train_in_memory_rows:,}")
    result = train_lgbm_rows(lambda index: ParquetRows(files, feature_list, index), y, feature_list,
                             params_from(cfg))
    ids, clicks, scores = [], [], []
    for f in split_files(features_path, "holdout"):  # a loop over row groups, each scored as one matrix
        pf = pq.ParquetFile(f)
        for g in range(pf.metadata.num_row_groups):
            t = pf.read_row_group(g, columns=["id", "click", *feature_list])
            scores.append(result.booster.predict(as_matrix(t, feature_list), num_iteration=result.best_iteration))
            ids.append(t.column("id").to_numpy())
            clicks.append(t.column("click").to_numpy())
    p, click = np.concatenate(scores), np.concatenate(clicks)
    preds = pd.DataFrame({"id": np.concatenate(ids), "click": click, "p_click": p})
    return result, binary_metrics(click, p), preds


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
