"""The banner_bandit_eval steps in order; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.banner_bandit_eval import evaluate, logs
from jobs.banner_bandit_eval.config import EXPERIMENT, load

STEPS = {
    "load_logs": logs.run_load,
    "validate_logs": logs.run_validate,
    "evaluate": evaluate.run,
}

__all__ = ["EXPERIMENT", "STEPS", "load"]
