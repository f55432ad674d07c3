"""ingest_facts / validate_facts: daily segment facts from a file or a synthetic world, checked by GX."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.budget_bandits.config import BudgetConfig
from jobs.paths import RunContext, atomic_path, sha256_file, write_json
from jobs.validation import validate_and_log
from models.bandits.world import legacy_history, make_world
from models.common.errors import BadInputError

log = logging.getLogger(__name__)

COLUMNS = ("day", "segment_key", "clicks", "conv", "spent")


def synthetic_world(cfg: BudgetConfig) -> Any:
    """The configured world: history plus simulated horizon, seeded by ``cfg.seed``."""
    return make_world(cfg.n_segments, cfg.history_days + cfg.horizon_days, cfg.seed,
                      cvr_drift=cfg.cvr_drift, cpc_drift=cfg.cpc_drift, cvr_spread=0.3, cpc_spread=0.15)


def read_facts(path: Path) -> pd.DataFrame:
    """Facts from Parquet or CSV; BadInputError naming the file for a missing column or bad day."""
    if not path.is_file():
        raise BadInputError(f"facts file {path} does not exist")
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pyarrow / pandas parser errors: say which file
        raise BadInputError(f"cannot read facts file {path}: {exc}") from exc
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise BadInputError(f"facts file {path} lacks column(s) {missing}; expected {list(COLUMNS)}")
    df = df[list(COLUMNS)].copy()
    try:
        df["day"] = pd.to_datetime(df["day"], errors="raise").dt.date
    except (ValueError, TypeError) as exc:
        raise BadInputError(f"facts file {path}: column 'day' holds values that are not dates ({exc})") from exc
    for col in ("clicks", "conv", "spent"):
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() & df[col].notna()
        if bad.any():
            raise BadInputError(f"facts file {path}: column {col!r} is not numeric at row {int(bad.idxmax())} "
                                 f"({df[col][bad].iloc[0]!r})")
        df[col] = num
    df["segment_key"] = df["segment_key"].astype(str)
    return df


def run_ingest(cfg: BudgetConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Write this run's facts (and, for synthetic, the ground truth apart) under the run folder."""
    import mlflow

    out_dir = ctx.run_dir / "facts"
    truth_path = None
    if cfg.source == "synthetic":
        world = synthetic_world(cfg)
        facts = legacy_history(world, cfg.history_days, cfg.daily_budget, cfg.seed)
        truth_path = ctx.run_dir / "truth" / "truth.parquet"
        with atomic_path(truth_path) as tmp:
            world.truth_frame().to_parquet(tmp, index=False)
        write_json(truth_path.with_name("world.json"), {
            "n_segments": cfg.n_segments, "days": world.n_days, "history_days": cfg.history_days,
            "start": str(world.start.date()), "seed": cfg.seed, "cvr_drift": cfg.cvr_drift, "cpc_drift": cfg.cpc_drift})
        log.info("synthetic facts: %d segments x %d days (ground truth in %s)", cfg.n_segments, cfg.history_days,
                 truth_path.parent)
    else:
        facts = read_facts(Path(cfg.local_path))
        log.info("local facts: %d rows, %d segments, %s to %s", len(facts), facts["segment_key"].nunique(),
                 facts["day"].min(), facts["day"].max())
    path = out_dir / "facts.parquet"
    with atomic_path(path) as tmp:
        facts.to_parquet(tmp, index=False)
    mlflow.log_params({"source": cfg.source, "facts_rows": len(facts)})
    mlflow.log_metrics({"facts_rows": len(facts), "facts_segments": facts["segment_key"].nunique(),
                        "facts_days": facts["day"].nunique()})
    return {"facts_path": str(path), "facts_sha256": sha256_file(path),
            "truth_path": str(truth_path) if truth_path else None}


def run_validate(cfg: BudgetConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Great Expectations suite ``budget_facts``: a failure stops the run before any plan is written."""
    df = pd.read_parquet(state["facts_path"])
    report = validate_and_log(df, "budget_facts", f"facts {state['facts_path']}", ctx.run_dir / "validation")
    return {**state, "validate_facts": report}
