"""validate_raw / validate_features: the Great Expectations gates of the avazu_ctr pipeline."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.avazu_ctr.config import AvazuConfig
from jobs.paths import RunContext, data_root, defer_link
from jobs.validation import validate_and_log

log = logging.getLogger(__name__)


def _validate(df: pd.DataFrame, suite: str, dataset: str, ctx: RunContext) -> dict[str, Any]:
    """Validate with the GX context and Data Docs in this run's folder."""
    return validate_and_log(df, suite, dataset, ctx.run_dir / "validation")


def log_dataset(df: pd.DataFrame, path: str, name: str, digest: str | None = None, context: str = "training") -> None:
    """Record ``path`` as an MLflow dataset input (schema from the frame, digest if known)."""
    import mlflow

    ds = mlflow.data.from_pandas(df.head(1000), source=path, name=name, digest=digest[:36] if digest else None)
    mlflow.log_input(ds, context=context)


def run_raw(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Validate the raw Parquet sample against ``expectations/avazu_raw.json``."""
    df = pd.read_parquet(state["sample_path"])
    log_dataset(df, state["sample_path"], "avazu_raw_sample", state.get("sample_sha256"))
    return {**state, "validate_raw": _validate(df, "avazu_raw", f"raw sample {state['sample_path']}", ctx)}


def run_features(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Validate the features against ``expectations/avazu_features.json``, then publish them.

    Publishing points ``<data>/avazu_ctr/features/current`` at this run's features, the
    path behind the features Asset, once the whole run has succeeded; a failure at any step leaves the old
    link in place.
    """
    data = Path(state["features_path"]) / "data"
    df = pd.read_parquet(data)
    df["split"] = df["split"].astype(str)
    log_dataset(df, str(data), "avazu_features")
    out = [_validate(df, "avazu_features", f"features {data}", ctx)]
    if cfg.use_id_encodings:
        out.append(_validate(df, "avazu_id_encodings", f"features {data}", ctx))
    return defer_link({**state, "validate_features": out}, Path(state["features_path"]), current_features_link())


def current_features_link() -> Path:
    """The published (validated) features of the latest successful run."""
    return data_root() / "avazu_ctr" / "features" / "current"
