"""The budget_bandits steps in order, each with what it reads from the earlier steps and what it writes for
the later ones; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.budget_bandits import allocate, facts, insights, simulate
from jobs.budget_bandits.config import EXPERIMENT, PIPELINE, load
from jobs.steps import Step, check_chain

STEPS = check_chain(
    PIPELINE,
    {
        "ingest_facts": Step(facts.run_ingest, reads=(), writes=("facts_path", "facts_sha256", "truth_path")),
        "validate_facts": Step(facts.run_validate, reads=("facts_path",), writes=("validate_facts",)),
        "allocate": Step(allocate.run, reads=("facts_path",), writes=("plan_day", "plan_path", "uplift")),
        "simulate": Step(
            simulate.run, reads=("facts_path", "truth_path"), writes=("regret", "simulation_path", "simulation_world")
        ),
        "insights": Step(
            insights.run,
            reads=("facts_path", "plan_day", "plan_path", "simulation_path", "uplift"),
            writes=("insights_backend", "insights_path"),
        ),
    },
)

__all__ = ["EXPERIMENT", "STEPS", "load"]
