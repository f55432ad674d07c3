"""The MLflow side of every job: the store, the experiment, and the run lifecycle (one parent run per DAG
run, one nested run per task)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jobs.liveness import process_alive, process_tags
from jobs.paths import REPO_ROOT, RunContext
from jobs.provenance import config_hash, git_sha
from jobs.resources import cpu_count
from models.common.errors import PlatformError

# MLflow's own settings, with defaults that make a dead server fail a task within ~30 s (its defaults: 120 s
# per request, 7 retries, about 8 minutes); Airflow's task retries do the waiting. Users override them by name.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "8", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
# Once the server has answered, a task rides out its restart (a deploy, or a crash its supervisor restarts:
# 20-80 s on a busy host) instead of losing an hour of training to it: 6 retries 4, 8, ... 64 s apart.
PATIENT_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "6", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2"}
_READY: set[str] = set()


class TrackingUnavailableError(PlatformError):
    """The MLflow tracking server does not answer."""


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


def check_server(uri: str) -> None:
    """TrackingUnavailableError naming ``uri`` unless the server answers ``/health`` within the HTTP timeout."""
    import requests

    timeout = float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=timeout).raise_for_status()
    except requests.RequestException as exc:
        raise TrackingUnavailableError(
            f"the MLflow tracking server at {uri} does not answer ({type(exc).__name__}: {exc}); start it "
            f"(make ui, make stack) or point MLFLOW_TRACKING_URI at a running one") from exc


def ensure_store(uri: str) -> None:
    """Once per process: check a tracking server answers, or create and migrate a SQLite store under a lock
    (two tasks starting on a fresh store at once would otherwise both run MLflow's schema migration)."""
    if uri in _READY:
        return
    import mlflow

    if uri.startswith(("http://", "https://")):
        check_server(uri)
    elif uri.startswith("sqlite:///"):
        from jobs.locks import file_lock

        db = Path(uri[len("sqlite:///"):])
        with file_lock(db.with_name(f".{db.name}.lock"), 600, f"creating the MLflow store {db}"):
            mlflow.MlflowClient(uri).search_experiments(max_results=1)
    _READY.add(uri)


def mlflow_setup(experiment: str) -> str:
    """Point MLflow at the configured store (checked once per process) and get-or-create ``experiment``;
    returns its id."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no phoning home from tasks
    users = {k for k in HTTP_DEFAULTS if k in os.environ and os.environ[k] != PATIENT_RETRIES.get(k)}
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    import mlflow

    uri = mlflow_tracking_uri()
    ensure_store(uri)
    os.environ.update({k: v for k, v in PATIENT_RETRIES.items() if k not in users})
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is not None:
        exp_id = exp.experiment_id
    else:
        try:
            exp_id = client.create_experiment(experiment, artifact_location=mlflow_artifact_location(experiment, uri))
        except Exception:  # created meanwhile by a parallel task
            exp = client.get_experiment_by_name(experiment)
            if exp is None:
                raise
            exp_id = exp.experiment_id
    # Active also when just created: a process that used another store before (a test worker, a notebook) would
    # otherwise start its next run in that store's experiment id, which here is another experiment or none.
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


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
        if found[0].info.status != "RUNNING":  # a rerun of a failed or killed DAG run: it runs again
            client.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id
    run = client.create_run(
        experiment_id, run_name=ctx.run_id, tags={**tags, "platform.role": "dag_run"}
    )
    return run.info.run_id


def close_dead_runs(experiment_ids: list[str], filter_string: str, closer: str, dry_run: bool = False) -> list[Any]:
    """Mark KILLED the task runs left RUNNING by a process that is gone (on this host); returns them
    (``dry_run``: only returns them).

    A task killed by SIGKILL or the OOM killer never ends its MLflow run; without this it reads RUNNING
    forever. Runs of live processes and of other hosts are left alone.
    """
    import mlflow

    client = mlflow.MlflowClient()
    closed = []
    where = " and ".join(f for f in (filter_string, "attributes.status = 'RUNNING'", "tags.`platform.role` = 'task'")
                         if f)
    for run in client.search_runs(experiment_ids, where, max_results=5000):
        if process_alive(run.data.tags) is False:
            if not dry_run:
                client.set_tag(run.info.run_id, "platform.closed_by", closer)
                client.set_terminated(run.info.run_id, status="KILLED")
            closed.append(run)
    return closed


@contextlib.contextmanager
def task_run(experiment: str, ctx: RunContext, cfg: Any) -> Iterator[Any]:
    """A nested MLflow run for one task under the DAG run's parent run.

    The parent (one per ``ctx.run_id``) is created by whichever task comes first. Tags:
    ``airflow.dag_id``, ``airflow.run_id``, ``airflow.task_id``, ``git.sha``, ``config.hash``, and
    ``platform.threads`` (what XGBoost, LightGBM and torch were given: their last digits can depend on it).
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
    close_dead_runs([exp_id], f"tags.`airflow.run_id` = '{ctx.run_id.replace(chr(39), '')}'", "a rerun")
    with mlflow.start_run(
        experiment_id=exp_id,
        run_name=ctx.task_id or "task",
        parent_run_id=parent,
        nested=True,
        tags={**tags, **process_tags(), "airflow.task_id": ctx.task_id, "platform.role": "task",
              "platform.threads": str(cpu_count())},
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
