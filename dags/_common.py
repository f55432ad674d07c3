"""What every DAG file shares: the Assets (each defined once), default_args, Params helpers, the task
body, the Kaggle connection and the failure callback.

Listed in ``.airflowignore``: it defines no DAG. Heavy modules are imported inside the functions,
so parsing a DAG file stays light (no pandas, MLflow...).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset

# Data-aware scheduling: producers list these as outlets, consumers schedule on them.
AVAZU_FEATURES = Asset(name="avazu_ctr.features", uri="x-platform://avazu_ctr/features")
CTR_CHAMPION = Asset(name="ctr_lightgbm.champion", uri="x-platform://mlflow/models/ctr_lightgbm/champion")
SESSION_FEATURES = Asset(name="pricing_models.session_features", uri="x-platform://pricing_models/features")
AGENT_CHAMPION = Asset(name="agent_classifier.champion", uri="x-platform://mlflow/models/agent_classifier/champion")
BUDGET_PLAN = Asset(name="budget_bandits.plan", uri="x-platform://budget_bandits/plan")
MMM_CHAMPION = Asset(name="mmm.champion", uri="x-platform://mlflow/models/mmm/champion")
LEARNED_POLICIES = Asset(name="market_rl.policies", uri="x-platform://mlflow/models/market_rl/policies")


def schedule(value: Any) -> Any:
    """The DAG's schedule, or None (triggered runs only) when ``PLATFORM_SCHEDULES=off``: for a CI or
    staging deployment that must run only what it is asked to (unpausing a scheduled DAG otherwise starts
    its latest interval at once, on the default profile)."""
    import os

    switch = os.environ.get("PLATFORM_SCHEDULES", "on")
    if switch.strip().lower() not in ("on", "off"):  # "false" or "0" must not leave the schedules on unnoticed
        raise ValueError(f"PLATFORM_SCHEDULES must be 'on' or 'off', got {switch!r}")
    return None if switch.strip().lower() == "off" else value


def default_args(pipeline: str, retries: int = 3, retry_delay_s: int = 20) -> dict[str, Any]:
    """The task defaults of every DAG: a task that dies (a killed worker, a tracking server restarting) is
    retried after 20, 40 and 80 s (a server that takes a minute to come back under load is waited for);
    bad input and failed gates are not retried (run_task fails them for good); the last failure closes the
    run's MLflow parent as FAILED."""
    return {"retries": retries, "retry_delay": timedelta(seconds=retry_delay_s), "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(minutes=5), "on_failure_callback": mark_mlflow_failed(pipeline)}


def opt_param(kind: str, title: str, description: str, **kw: Any) -> Any:
    """An optional Param: empty means 'the profile's value'.

    Choices are ``examples`` (a dropdown that may stay empty), not ``enum``, which would
    show a literal "null"; the config dataclass rejects a value outside the choices.
    """
    from airflow.sdk import Param

    return Param(None, type=["null", kind], title=title, description=f"{description} Empty = profile value.", **kw)


def profile_param(description: str, default: str = "demo", pipeline: str | None = None) -> Any:
    """The required ``profile`` Param: smoke | demo | full, plus those ``pipeline``'s profile file adds."""
    from airflow.sdk import Param

    from jobs.config import PROFILES, profiles

    choices = list(profiles(pipeline) if pipeline else PROFILES)
    return Param(default, enum=choices, title="Profile", description=description)


def run_task(pipeline: str, step: str, state: dict[str, Any] | None) -> dict[str, Any]:
    """Run one step of ``pipeline`` with the current DAG run's Params and ids (inside a task)."""
    from airflow.sdk import get_current_context

    from jobs.paths import RunContext
    from jobs.runner import run_step
    from models.common.errors import BadInputError, GateError

    context = get_current_context()
    params = dict(context["params"])
    profile = params.pop("profile")
    ctx = RunContext(dag_id=context["dag"].dag_id, run_id=context["run_id"])
    try:
        return run_step(pipeline, step, profile, params, ctx, state)
    except (BadInputError, GateError) as exc:
        # The same input gives the same answer: retrying would only delay the failure.
        from airflow.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def kaggle_connection_to_env() -> None:
    """Copy an Airflow connection ``kaggle_default`` into the variables the Kaggle client reads."""
    import os

    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return
    from airflow.sdk import Connection

    try:
        conn = Connection.get("kaggle_default")
    except Exception:  # no such connection: the ingest step explains what is missing
        return
    if conn.login and conn.password:
        os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"] = conn.login, conn.password


def mark_mlflow_failed(pipeline: str) -> Callable[[Any], None]:
    """A task failure callback that closes the DAG run's parent MLflow run as FAILED."""

    def callback(context: Any) -> None:
        from jobs.paths import RunContext
        from jobs.runner import pipeline as pipeline_module
        from jobs.tracking import end_parent_run

        experiment = pipeline_module(pipeline).EXPERIMENT
        end_parent_run(experiment, RunContext(context["dag"].dag_id, context["run_id"]), status="FAILED",
                       error=context.get("exception"))

    return callback
