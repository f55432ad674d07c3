"""The MLflow side of every job: the store, the experiment, and the run lifecycle (one parent run per DAG
run, one nested run per task)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jobs.paths import REPO_ROOT, RunContext
from jobs.provenance import config_hash, git_sha


def mlflow_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else the embedded SQLite store under ``<repo>/.mlflow``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    home = Path(os.environ.get("PLATFORM_MLFLOW_DIR", REPO_ROOT / ".mlflow")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow.db'}"


def mlflow_artifact_location(experiment: str, tracking_uri: str) -> str | None:
    """Where a new experiment keeps its artifacts.

    A SQLite store has no server to hold artifacts: they go next to the database file,
    ``<db folder>/artifacts/<experiment>``. A tracking server chooses its own (None).
    """
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):]).resolve()
        return (db.parent / "artifacts" / experiment).as_uri()
    return None


def mlflow_setup(experiment: str) -> str:
    """Point MLflow at the configured store and get-or-create ``experiment``; returns its id."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no phoning home from tasks
    import mlflow

    uri = mlflow_tracking_uri()
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        try:
            return client.create_experiment(experiment, artifact_location=mlflow_artifact_location(experiment, uri))
        except Exception:  # created meanwhile by a parallel task
            exp = client.get_experiment_by_name(experiment)
            if exp is None:
                raise
    mlflow.set_experiment(experiment_id=exp.experiment_id)
    return exp.experiment_id


def _parent_run_id(experiment_id: str, ctx: RunContext, tags: dict[str, str]) -> str:
    import mlflow

    client = mlflow.MlflowClient()
    safe = ctx.run_id.replace("'", "")
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`airflow.run_id` = '{safe}' and tags.`platform.role` = 'dag_run'",
        max_results=1,
    )
    if found:
        return found[0].info.run_id
    run = client.create_run(
        experiment_id, run_name=ctx.run_id, tags={**tags, "platform.role": "dag_run"}
    )
    return run.info.run_id


@contextlib.contextmanager
def task_run(experiment: str, ctx: RunContext, cfg: Any) -> Iterator[Any]:
    """A nested MLflow run for one task under the DAG run's parent run.

    The parent (one per ``ctx.run_id``) is created by whichever task comes first. Tags:
    ``airflow.dag_id``, ``airflow.run_id``, ``airflow.task_id``, ``git.sha``, ``config.hash``.
    """
    import mlflow

    exp_id = mlflow_setup(experiment)
    tags = {
        "airflow.dag_id": ctx.dag_id,
        "airflow.run_id": ctx.run_id,
        "git.sha": git_sha(),
        "config.hash": config_hash(cfg),
        "config.profile": getattr(cfg, "profile", ""),
    }
    parent = _parent_run_id(exp_id, ctx, tags)
    with mlflow.start_run(
        experiment_id=exp_id,
        run_name=ctx.task_id or "task",
        parent_run_id=parent,
        nested=True,
        tags={**tags, "airflow.task_id": ctx.task_id, "platform.role": "task"},
    ) as run:
        yield run


def end_parent_run(experiment: str, ctx: RunContext, status: str = "FINISHED",
                   error: BaseException | None = None) -> str:
    """Mark the DAG run's parent MLflow run as ended; returns its id.

    With ``error``, the run is tagged with what kind of failure it was (``failure.kind``: bad_input,
    gate or bug) and its message, so the MLflow UI tells a rejected file from a defect.
    """
    import mlflow

    from models.common.errors import error_kind

    exp_id = mlflow_setup(experiment)
    parent = _parent_run_id(exp_id, ctx, {"airflow.dag_id": ctx.dag_id, "airflow.run_id": ctx.run_id})
    client = mlflow.MlflowClient()
    if error is not None:
        client.set_tag(parent, "failure.kind", error_kind(error))
        client.set_tag(parent, "failure.message", f"{type(error).__name__}: {error}"[:4000])
    client.set_terminated(parent, status=status)
    return parent
