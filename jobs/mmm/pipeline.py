"""The mmm steps in order; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.mmm import data, fit, plan, summary
from jobs.mmm.config import EXPERIMENT, load

STEPS = {
    "ingest": data.run_ingest,
    "validate": data.run_validate,
    "fit": fit.run_fit,
    "evaluate": fit.run_evaluate,
    "curves": plan.run_curves,
    "optimise": plan.run_optimise,
    "report": summary.run,
}

__all__ = ["EXPERIMENT", "STEPS", "load"]
