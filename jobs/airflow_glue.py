"""What every DAG file shares: optional Params, the task body, the failure callback.

Only DAG files import this module. Airflow is imported inside the functions, so the rest
of ``jobs`` stays usable without it, and DAG parsing stays light (no pandas, MLflow...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def opt_param(kind: str, title: str, description: str, **kw: Any) -> Any:
    """An optional Param: empty means 'the profile's value'.

    Choices are ``examples`` (a dropdown that may stay empty), not ``enum``, which would
    show a literal "null"; the config dataclass rejects a value outside the choices.
    """
    from airflow.sdk import Param

    return Param(None, type=["null", kind], title=title, description=f"{description} Empty = profile value.", **kw)


def profile_param(description: str, default: str = "demo") -> Any:
    """The required ``profile`` Param (smoke | demo | full)."""
    from airflow.sdk import Param

    return Param(default, enum=["smoke", "demo", "full"], title="Profile", description=description)


def run_task(pipeline: str, step: str, state: dict[str, Any] | None) -> dict[str, Any]:
    """Run one step of ``pipeline`` with the current DAG run's Params and ids (inside a task)."""
    from airflow.sdk import get_current_context

    from jobs.common import RunContext
    from jobs.runner import run_step

    context = get_current_context()
    params = dict(context["params"])
    profile = params.pop("profile")
    ctx = RunContext(dag_id=context["dag"].dag_id, run_id=context["run_id"])
    return run_step(pipeline, step, profile, params, ctx, state)


def mark_mlflow_failed(pipeline: str) -> Callable[[Any], None]:
    """A task failure callback that closes the DAG run's parent MLflow run as FAILED."""

    def callback(context: Any) -> None:
        from jobs.common import RunContext, end_parent_run
        from jobs.runner import pipeline as pipeline_module

        experiment = pipeline_module(pipeline).EXPERIMENT
        end_parent_run(experiment, RunContext(context["dag"].dag_id, context["run_id"]), status="FAILED")

    return callback
