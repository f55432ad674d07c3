"""The budget_bandits steps in order; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.budget_bandits import allocate, facts, insights, simulate
from jobs.budget_bandits.config import EXPERIMENT, load

STEPS = {
    "ingest_facts": facts.run_ingest,
    "validate_facts": facts.run_validate,
    "allocate": allocate.run,
    "simulate": simulate.run,
    "insights": insights.run,
}

__all__ = ["EXPERIMENT", "STEPS", "load"]
