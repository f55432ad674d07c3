"""The mmm steps in order, each with what it reads from the earlier steps and what it writes for
the later ones; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.mmm import data, fit, plan, summary
from jobs.mmm.config import EXPERIMENT, PIPELINE, load
from jobs.steps import Step, check_chain

STEPS = check_chain(
    PIPELINE,
    {
        "ingest": Step(data.run_ingest, reads=(), writes=("data_path", "data_sha256", "source", "truth_dir")),
        "validate": Step(data.run_validate, reads=("data_path",), writes=("validate",)),
        "fit": Step(fit.run_fit, reads=("data_path",), writes=("fit_path", "fit_seconds", "posterior_path")),
        "evaluate": Step(
            fit.run_evaluate, reads=("data_path", "fit_path", "truth_dir"), writes=("holdout", "recovery")
        ),
        "curves": Step(plan.run_curves, reads=("posterior_path",), writes=("curves_path",)),
        "optimise": Step(plan.run_optimise, reads=("posterior_path",), writes=("uplift", "whatif_path")),
        "report": Step(summary.run, reads=("holdout", "posterior_path"),
                       writes=("registered", "report_path", "report_html")),
    },
)

__all__ = ["EXPERIMENT", "STEPS", "load"]
