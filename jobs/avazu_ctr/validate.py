"""validate_raw / validate_features: the Great Expectations gates of the avazu_ctr pipeline."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as ds

from jobs.avazu_ctr.config import AvazuConfig
from jobs.paths import RunContext, data_root, defer_link
from jobs.validation import load_for_validation, validate_and_log

log = logging.getLogger(__name__)


def _validate(df: Any, suite: str, dataset: str, ctx: RunContext) -> dict[str, Any]:
    """Validate with the GX context and Data Docs in this run's folder."""
    return validate_and_log(df, suite, dataset, ctx.run_dir / "validation")


def _dataset(path: str | Path) -> ds.Dataset:
    """A Parquet file, or a folder of them with hive partitions (``split=train/``), read lazily."""
    return ds.dataset(str(path), format="parquet", partitioning="hive")


def log_dataset(path: str, name: str, digest: str | None = None, context: str = "training") -> None:
    """Record ``path`` as an MLflow dataset input (schema and a 1,000-row preview from its first rows, digest
    if known)."""
    import mlflow

    ds = mlflow.data.from_pandas(_dataset(path).head(1000).to_pandas(), source=path, name=name,
                                 digest=digest[:36] if digest else None)
    mlflow.log_input(ds, context=context)


def run_raw(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Validate the raw Parquet sample against ``expectations/avazu_raw.json``."""
    df = load_for_validation(state["sample_path"], cfg.validation_engine, cfg.validation_spark_rows, "avazu_validate")
    log_dataset(state["sample_path"], "avazu_raw_sample", state.get("sample_sha256"))
    return {**state, "validate_raw": _validate(df, "avazu_raw", f"raw sample {state['sample_path']}", ctx)}


def run_features(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Validate the features against ``expectations/avazu_features.json``, then publish them.

    Publishing points ``<data>/avazu_ctr/features/current`` at this run's features, the
    path behind the features Asset, once the whole run has succeeded; a failure at any step leaves the old
    link in place.
    """
    data = Path(state["features_path"]) / "data"
    df = load_for_validation(data, cfg.validation_engine, cfg.validation_spark_rows, "avazu_validate")
    if isinstance(df, pd.DataFrame):
        df["split"] = df["split"].astype(str)  # the partition column reads back as a category
    log_dataset(str(data), "avazu_features")
    out = [_validate(df, "avazu_features", f"features {data}", ctx)]
    if cfg.use_id_encodings:
        out.append(_validate(df, "avazu_id_encodings", f"features {data}", ctx))
    return defer_link({**state, "validate_features": out}, Path(state["features_path"]), current_features_link())


def current_features_link() -> Path:
    """The published (validated) features of the latest successful run."""
    return data_root() / "avazu_ctr" / "features" / "current"
