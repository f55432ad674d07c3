"""Print what the latest runs produced, per pipeline (run by ``make demo`` after the DAGs).

``python -m jobs.report [PIPELINE ...]`` (default: all) prints each pipeline's section. Each section is
written next to its pipeline (``jobs/<pipeline>/latest.py``) and uses the MLflow lookups here.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from jobs.tracking import mlflow_setup, mlflow_tracking_uri

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a clean report, not progress bars


def latest_task_run(experiment: str, task: str) -> Any:
    """The newest finished MLflow run of ``task`` in ``experiment``."""
    import mlflow

    exp_id = mlflow_setup(experiment)
    runs = mlflow.MlflowClient().search_runs(
        [exp_id], filter_string=f"tags.`airflow.task_id` = '{task}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    if not runs:
        raise LookupError(f"no finished {experiment}.{task} run in {mlflow_tracking_uri()}")
    return runs[0]


def latest_promotion(experiment: str = "avazu_ctr") -> dict[str, object]:
    """The newest finished evaluate_and_promote task run and its DAG run."""
    r = latest_task_run(experiment, "evaluate_and_promote")
    exp_id = r.info.experiment_id
    return {
        "experiment_id": exp_id,
        "parent_run_id": r.data.tags.get("mlflow.parentRunId"),
        "task_run_id": r.info.run_id,
        "airflow_run_id": r.data.tags.get("airflow.run_id"),
        "model": r.data.tags.get("registered_model"),
        "version": r.data.tags.get("registered_version"),
        "alias": r.data.tags.get("alias"),
        **{k: v for k, v in r.data.metrics.items()},
    }


def has_rows(run: Any, path: str) -> bool:
    """Whether the CSV artifact ``path`` of ``run`` has a row below its header."""
    import mlflow

    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=path)
    with open(local) as f:
        return len(f.read().strip().splitlines()) > 1


def artifact_csv(run: Any, path: str) -> Any:
    """The CSV artifact ``path`` of ``run`` as a data frame."""
    import mlflow
    import pandas as pd

    return pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=path))


REPORT_ORDER = ("avazu_ctr", "pricing_models", "budget_bandits", "banner_bandit_eval", "mmm", "market_rl_training",
                "market_nightly")


def main(argv: list[str] | None = None) -> int:
    """Print the sections of the pipelines named in ``argv`` (all by default); 2 for an unknown name."""
    from jobs.runner import PIPELINES

    wanted = (argv if argv is not None else sys.argv[1:]) or list(REPORT_ORDER)
    for name in wanted:
        if name not in PIPELINES:
            print(f"unknown pipeline {name!r}; known: {list(PIPELINES)}", file=sys.stderr)
            return 2
    for name in wanted:
        importlib.import_module(f"jobs.{name}.latest").print_latest()
    return 0


if __name__ == "__main__":
    sys.exit(main())
