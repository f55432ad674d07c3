"""The banner_bandit_eval steps in order, each with what it reads from the earlier steps and what it writes for
the later ones; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.banner_bandit_eval import evaluate, logs
from jobs.banner_bandit_eval.config import EXPERIMENT, PIPELINE, load
from jobs.steps import Step, check_chain

STEPS = check_chain(
    PIPELINE,
    {
        "load_logs": Step(logs.run_load, reads=(), writes=("logs", "logs_path", "truth_path")),
        "validate_logs": Step(logs.run_validate, reads=("logs_path",), writes=("validate_logs",)),
        "evaluate": Step(evaluate.run, reads=("logs_path", "truth_path"), writes=("ope_path", "rows")),
    },
)

__all__ = ["EXPERIMENT", "STEPS", "load"]
