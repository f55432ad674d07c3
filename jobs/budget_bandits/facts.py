"""ingest_facts / validate_facts: daily segment facts from a file or a synthetic world, checked by GX."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.budget_bandits.config import BudgetConfig
from jobs.paths import RunContext, atomic_path, sha256_file, write_json
from jobs.tables import Column, read_table
from jobs.validation import validate_and_log
from models.bandits.world import legacy_history, make_world

log = logging.getLogger(__name__)



def synthetic_world(cfg: BudgetConfig) -> Any:
    """The configured world: history plus simulated horizon, seeded by ``cfg.seed``."""
    return make_world(cfg.n_segments, cfg.history_days + cfg.horizon_days, cfg.seed,
                      cvr_drift=cfg.cvr_drift, cpc_drift=cfg.cpc_drift, cvr_spread=0.3, cpc_spread=0.15)


FACT_COLUMNS = (Column("day", "date"), Column("segment_key", "str"), Column("clicks", "int"), Column("conv", "int"),
                Column("spent", "float"))


def read_facts(path: Path) -> pd.DataFrame:
    """Facts from Parquet or CSV, checked cell by cell (jobs.tables): bad input names the file, column and row."""
    return read_table(path, FACT_COLUMNS, "facts file")


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
