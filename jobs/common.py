"""Plumbing shared by every job: paths, run context, atomic writes, MLflow runs, errors.

Nothing here knows about a particular pipeline. Airflow is never imported: the DAG
passes what it knows (dag id, run id, task id) in a :class:`RunContext`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger("jobs")

REPO_ROOT = Path(__file__).resolve().parent.parent


class InputDataError(ValueError):
    """Input data is unusable; the message says what is wrong and where."""


class CredentialsError(RuntimeError):
    """Credentials for an external source are missing or rejected."""


def data_root() -> Path:
    """Root of every pipeline's outputs: ``$PLATFORM_DATA_DIR`` or ``<repo>/data``."""
    return Path(os.environ.get("PLATFORM_DATA_DIR", REPO_ROOT / "data")).resolve()


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


@dataclass(frozen=True)
class RunContext:
    """Who is running a job: the Airflow DAG run and task, or a CLI invocation."""

    dag_id: str
    run_id: str
    task_id: str = ""

    @classmethod
    def cli(cls, dag_id: str, run_id: str | None = None) -> "RunContext":
        """A context for running outside Airflow; run ids look like Airflow's manual ones."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        return cls(dag_id=dag_id, run_id=run_id or f"cli__{stamp}_{uuid.uuid4().hex[:6]}")

    def for_task(self, task_id: str) -> "RunContext":
        return RunContext(self.dag_id, self.run_id, task_id)

    @property
    def run_dir(self) -> Path:
        """Folder of this DAG run's outputs (run ids hold ':' and '+', unsafe in paths)."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.run_id)
        return data_root() / self.dag_id / "runs" / safe


def config_hash(cfg: Any) -> str:
    """Short stable hash of a config dataclass, tagged on every run."""
    blob = json.dumps(asdict(cfg), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


@lru_cache(maxsize=1)
def git_sha() -> str:
    """Commit of the code that runs, or 'unknown' outside a git checkout."""
    if os.environ.get("PLATFORM_GIT_SHA"):
        return os.environ["PLATFORM_GIT_SHA"]
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is replaced only after success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_dir() and not final.is_symlink():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final: Path, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; move it into place only if the block succeeds.

    On any exception the temporary file or folder is removed and ``final`` (an earlier
    result, if any) is left exactly as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    if is_dir:
        tmp.mkdir()
    try:
        yield tmp
        _swap_into_place(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    return Path(path)


def publish_link(target: Path, link: Path) -> None:
    """Point ``link`` (e.g. ``features/current``) at ``target`` atomically."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.tmp-{uuid.uuid4().hex[:8]}")
    os.symlink(target, tmp)
    os.replace(tmp, link)


# ---------------------------------------------------------------- MLflow


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


def end_parent_run(experiment: str, ctx: RunContext, status: str = "FINISHED") -> str:
    """Mark the DAG run's parent MLflow run as ended; returns its id."""
    import mlflow

    exp_id = mlflow_setup(experiment)
    parent = _parent_run_id(exp_id, ctx, {"airflow.dag_id": ctx.dag_id, "airflow.run_id": ctx.run_id})
    mlflow.MlflowClient().set_terminated(parent, status=status)
    return parent
