"""ingest / validate: the panel the data spec describes (default: the geoindia layout) from Kaggle, a local CSV or
the synthetic generators."""

from __future__ import annotations

import dataclasses
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
from models.mmm.schema import NUMERIC
from models.mmm.spec import FREQUENCIES, GEOINDIA, PERIODS_PER_YEAR, Channel, DataSpec, media_problems, parse, suite
from models.mmm.synth import MmmSpec, generate, to_kaggle_layout
from models.mmm.synth_panel import generate_panel

log = logging.getLogger(__name__)
# Channels of a synthetic panel whose preset leaves them to the data (national): found again from their columns.
SYNTHETIC_CHANNELS = (Channel("search", spend="search_spend"), Channel("social", volume="social_impressions",
                                                                        spend="social_spend"))


def read_weekly(path: Path, cfg: MmmConfig | None = None) -> pd.DataFrame:
    """The CSV at ``path`` parsed with the run's data spec (default: the geoindia preset); errors name the file,
    column and row."""
    table = read_rows(path, "weekly data")
    spec = cfg.spec(list(table.frame.columns)) if cfg is not None else GEOINDIA
    # The geoindia file's other numeric columns (flags, indices) are checked too: its reviewed suite reads them.
    numeric = tuple(NUMERIC) if cfg is None or cfg.geoindia_layout else ()
    values = dict.fromkeys([*spec.value_columns(), *numeric])
    require_columns(table, [Column(c, "str") for c in spec.hierarchy] + [Column(c, "float") for c in values])
    convert_columns(table, [Column(c, "str") for c in spec.hierarchy])  # empty and oversized keys, at their row
    return parse(table.frame, spec, str(path), numeric)


def write_synthetic(cfg: MmmConfig, raw_dir: Path, truth_dir: Path) -> Path:
    """The synthetic CSV (in the preset's layout: geoindia's real file format, or the spec's columns) and, apart,
    its ground truth."""
    raw = raw_dir / "mmm_weekly.csv"
    if cfg.geoindia_layout:
        data, truth = generate(MmmSpec(seed=cfg.seed, digital_noise=cfg.digital_noise,
                                       cpm={c.name: c.cpm for c in cfg.spec().channels}))
        frame = to_kaggle_layout(data)
        contributions = truth.contributions
        with atomic_path(truth_dir / "roi.csv") as tmp:
            truth.roi.to_csv(tmp, index=False)
        with atomic_path(truth_dir / "response_curves.csv") as tmp:
            truth.curves.to_csv(tmp, index=False)
        write_json(truth_dir / "params.json", truth.params)
    else:
        spec = cfg.spec()
        if not spec.channels:
            spec = dataclasses.replace(spec, channels=SYNTHETIC_CHANNELS)
        data, ptruth = generate_panel(spec, seed=cfg.seed)
        column, fmt = next(iter(spec.date.items()))  # written as the spec reads it
        frame = data.rename(columns={"week": column})
        frame[column] = frame[column].dt.strftime(fmt or "%Y-%m-%d")
        contributions = ptruth.contributions
    with atomic_path(raw) as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(truth_dir / "contributions.parquet") as tmp:
        contributions.to_parquet(tmp, index=False)
    return raw


def panel_gaps(df: pd.DataFrame, spec: DataSpec = GEOINDIA) -> list[str]:
    """Problems a row-wise expectation cannot see: periods missing from a series or from the calendar."""
    weeks = pd.DatetimeIndex(df["week"].drop_duplicates().sort_values())
    step = pd.Timedelta(days=FREQUENCIES[spec.frequency])
    problems = []
    steps = weeks.to_series().diff().dropna()
    if (steps != step).any():
        gap = steps[steps != step].index[0]
        problems.append(f"the periods are not consecutive ({spec.frequency}): nothing between "
                        f"{weeks[weeks.get_loc(gap) - 1].date()} and {gap.date()}")
    if not spec.hierarchy:
        return problems
    hier = list(spec.hierarchy)
    counts = df.groupby(hier)["week"].nunique()
    short = counts[counts < len(weeks)]
    if len(short):
        key, n = short.index[0], int(short.iloc[0])
        key = key if isinstance(key, tuple) else (key,)
        have = set(df.loc[(df[hier] == pd.Series(key, index=hier)).all(axis=1), "week"])
        missing = [str(w.date()) for w in weeks if w not in have][:3]
        problems.append(f"{len(short)} series lack periods, e.g. {'/'.join(map(str, key))} has {n} of {len(weeks)} "
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
    df = read_weekly(raw, cfg)
    spec = cfg.spec(list(df.columns))
    for col, members in cfg.subset.items():
        unknown = sorted(set(members) - set(df[col]))
        if unknown:
            raise BadInputError(f"subset {col}: {unknown} are not in {raw}; it has {sorted(df[col].unique())}")
        df = df[df[col].isin(members)].reset_index(drop=True)
    path = ctx.run_dir / "data" / "weekly.parquet"
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    series = df.groupby(list(spec.hierarchy)).ngroups if spec.hierarchy else 1
    log.info("ingest: %s rows, %d series x %d periods, channels %s from %s (%s)", f"{len(df):,}", series,
             df["week"].nunique(), spec.names, raw, source)
    mlflow.log_params({"source": source, "raw_file": str(raw), "rows": len(df), "data_preset": cfg.data_preset,
                       "channels": ",".join(spec.names)})
    mlflow.log_dict(dataclasses.asdict(spec), "data_spec.json")
    mlflow.log_metrics({"rows": len(df), "weeks": df["week"].nunique(), "series": series})
    return {"data_path": str(path), "data_sha256": sha256_file(path), "source": source,
            "truth_dir": str(truth_dir) if truth_dir else None}


def run_validate(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """The GX suite (the reviewed ``mmm_weekly`` for the geoindia preset, else one generated from the data spec),
    the media check (no all-zero or constant channel) and the panel check; a failure stops the run before any fit
    is written."""
    import mlflow

    df = pd.read_parquet(state["data_path"])
    spec = cfg.spec(list(df.columns))
    dataset = f"weekly data {state['data_path']}"
    if cfg.geoindia_layout:
        report = validate_and_log(df, "mmm_weekly", dataset, ctx.run_dir / "validation")
    else:
        report = validate_and_log(df, "mmm_data", dataset, ctx.run_dir / "validation", suite=suite(spec))
    flat = media_problems(df, spec)
    if flat:
        mlflow.set_tag("validation.media", "failed")
        raise BadInputError(f"{dataset}: " + "; ".join(flat) + ": the model cannot estimate such a channel; drop it "
                            "from the data spec's channels")
    gaps = panel_gaps(df, spec)
    mlflow.set_tag("validation.panel", "failed" if gaps else "passed")
    if gaps:
        raise BadInputError(f"weekly data {state['data_path']}: " + "; ".join(gaps))
    year = int(round(PERIODS_PER_YEAR[spec.frequency]))
    if df["week"].nunique() < cfg.holdout_weeks + year:
        raise BadInputError(f"{dataset}: {df['week'].nunique()} periods ({spec.frequency}); the fit needs at least "
                            f"a year ({year}) plus the {cfg.holdout_weeks} holdout periods")
    return {**state, "validate": report}
