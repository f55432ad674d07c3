"""ingest / validate: the weekly geo x brand x SKU data from Kaggle, a local CSV or the synthetic generator."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.kaggle import download_file, resolve_source
from jobs.mmm.config import MmmConfig
from jobs.paths import RunContext, atomic_path, sha256_file, write_json
from jobs.tables import Column, convert_columns, read_rows, require_columns
from jobs.validation import validate_and_log
from models.common.errors import BadInputError
from models.mmm.schema import KEYS, NUMERIC, SchemaError, parse_weekly
from models.mmm.synth import MmmSpec, generate, to_kaggle_layout

log = logging.getLogger(__name__)


def read_weekly(path: Path) -> pd.DataFrame:
    """The weekly CSV at ``path``, parsed and checked against the schema (errors name the file, column and row)."""
    table = read_rows(path, "weekly data")
    require_columns(table, [Column(c, "str") for c in KEYS] + [Column(c, "float") for c in NUMERIC])
    convert_columns(table, [Column(c, "str") for c in KEYS])  # empty and oversized keys, at their row
    return parse_weekly(table.frame, str(path))


def write_synthetic(cfg: MmmConfig, raw_dir: Path, truth_dir: Path) -> Path:
    """The synthetic CSV (the real file's format) and, apart, its ground truth."""
    data, truth = generate(MmmSpec(seed=cfg.seed, digital_noise=cfg.digital_noise, cpm=dict(cfg.cpm)))
    raw = raw_dir / "mmm_weekly.csv"
    with atomic_path(raw) as tmp:
        to_kaggle_layout(data).to_csv(tmp, index=False)
    with atomic_path(truth_dir / "contributions.parquet") as tmp:
        truth.contributions.to_parquet(tmp, index=False)
    with atomic_path(truth_dir / "roi.csv") as tmp:
        truth.roi.to_csv(tmp, index=False)
    with atomic_path(truth_dir / "response_curves.csv") as tmp:
        truth.curves.to_csv(tmp, index=False)
    write_json(truth_dir / "params.json", truth.params)
    return raw


def panel_gaps(df: pd.DataFrame) -> list[str]:
    """Problems a row-wise expectation cannot see: weeks missing from a series or from the calendar."""
    weeks = pd.DatetimeIndex(df["week"].drop_duplicates().sort_values())
    problems = []
    steps = weeks.to_series().diff().dropna()
    if (steps != pd.Timedelta(days=7)).any():
        gap = steps[steps != pd.Timedelta(days=7)].index[0]
        problems.append(f"the weeks are not consecutive: nothing between {weeks[weeks.get_loc(gap) - 1].date()} "
                        f"and {gap.date()}")
    counts = df.groupby(["Geo", "Brand", "SKU"])["week"].nunique()
    short = counts[counts < len(weeks)]
    if len(short):
        (geo, brand, sku), n = short.index[0], int(short.iloc[0])
        have = set(df.loc[(df["Geo"] == geo) & (df["SKU"] == sku), "week"])
        missing = [str(w.date()) for w in weeks if w not in have][:3]
        problems.append(f"{len(short)} series lack weeks, e.g. {geo}/{brand}/{sku} has {n} of {len(weeks)} "
                        f"(missing {', '.join(missing)}{'...' if len(weeks) - n > 3 else ''})")
    return problems


def run_ingest(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Read the source into ``data/weekly.parquet`` (``week`` parsed from Date or Week); truth apart."""
    import mlflow

    source = resolve_source(cfg.source)
    truth_dir = None
    if source == "kaggle":
        raw = download_file("dataset", cfg.kaggle_dataset, cfg.kaggle_file, ctx.run_dir / "raw")
    elif source == "local":
        raw = Path(cfg.local_path).expanduser().resolve()
        if not raw.is_file():
            raise BadInputError(f"source=local: {raw} does not exist or is not a file")
    else:
        truth_dir = ctx.run_dir / "truth"
        raw = write_synthetic(cfg, ctx.run_dir / "raw", truth_dir)
    try:
        df = read_weekly(raw)
    except SchemaError as exc:
        raise BadInputError(str(exc)) from exc
    if cfg.geos:
        unknown = sorted(set(cfg.geos) - set(df["Geo"]))
        if unknown:
            raise BadInputError(f"geos {unknown} are not in {raw}; it has {sorted(df['Geo'].unique())}")
        df = df[df["Geo"].isin(cfg.geos)].reset_index(drop=True)
    path = ctx.run_dir / "data" / "weekly.parquet"
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    log.info("ingest: %s rows, %d series x %d weeks from %s (%s)", f"{len(df):,}",
             df.groupby(["Geo", "SKU"]).ngroups, df["week"].nunique(), raw, source)
    mlflow.log_params({"source": source, "raw_file": str(raw), "rows": len(df)})
    mlflow.log_metrics({"rows": len(df), "weeks": df["week"].nunique(), "series": df.groupby(["Geo", "SKU"]).ngroups})
    return {"data_path": str(path), "data_sha256": sha256_file(path), "source": source,
            "truth_dir": str(truth_dir) if truth_dir else None}


def run_validate(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Suite ``mmm_weekly`` plus the panel check; a failure stops the run before any fit is written."""
    import mlflow

    df = pd.read_parquet(state["data_path"])
    report = validate_and_log(df, "mmm_weekly", f"weekly data {state['data_path']}", ctx.run_dir / "validation")
    gaps = panel_gaps(df)
    mlflow.set_tag("validation.panel", "failed" if gaps else "passed")
    if gaps:
        raise BadInputError(f"weekly data {state['data_path']}: " + "; ".join(gaps))
    if df["week"].nunique() < cfg.holdout_weeks + 52:
        raise BadInputError(f"weekly data {state['data_path']}: {df['week'].nunique()} weeks; the fit needs at "
                             f"least a year plus the {cfg.holdout_weeks} holdout weeks")
    return {**state, "validate": report}
