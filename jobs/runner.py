"""Runs one pipeline step inside its MLflow task run: used by the DAGs and by the CLI."""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from jobs.paths import PENDING_LINKS, RunContext, publish_pending_links
from jobs.tracking import TrackingUnavailableError, end_parent_run, task_run

log = logging.getLogger("jobs.runner")


PIPELINES = ("avazu_ctr", "budget_bandits", "banner_bandit_eval", "pricing_models", "mmm", "market_nightly",
             "market_rl_training")


def pipeline(name: str) -> Any:
    """The ``jobs.<name>.pipeline`` module (STEPS, EXPERIMENT, load)."""
    if name not in PIPELINES:
        raise ValueError(f"unknown pipeline {name!r}; known: {PIPELINES}")
    return importlib.import_module(f"jobs.{name}.pipeline")


def run_step(name: str, step: str, profile: str, overrides: dict[str, Any] | None, ctx: RunContext,
             state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``step`` of pipeline ``name`` with config ``profile`` + ``overrides``.

    The step runs inside a nested MLflow run (tags: dag, run, task, git sha, config
    hash); its returned dict, plus ``mlflow_run_id``, is the next step's ``state``. After the
    last step the pointers the steps deferred (``features/current``...) move, and the DAG run's
    parent MLflow run is closed.
    """
    mod = pipeline(name)
    if step not in mod.STEPS:
        raise ValueError(f"unknown step {step!r} of {name}; steps: {list(mod.STEPS)}")
    cfg = mod.load(profile, overrides)
    ctx = ctx.for_task(step)
    t0 = time.time()
    contract = mod.STEPS[step]
    state = dict(state or {})
    contract.check_input(name, step, state)
    with task_run(mod.EXPERIMENT, ctx, cfg) as run:
        out = contract.run(cfg, ctx, state)
        contract.check_output(name, step, out)
        out["mlflow_run_id"] = run.info.run_id
        out["mlflow_experiment_id"] = run.info.experiment_id
        out.setdefault("mlflow_parent_run_id", run.data.tags.get("mlflow.parentRunId"))
    log.info("%s.%s finished in %.1f s", name, step, time.time() - t0)
    if step == list(mod.STEPS)[-1]:
        for link in publish_pending_links(out):
            log.info("%s: published %s -> %s", name, link, out[PENDING_LINKS][link])
        out["mlflow_parent_run_id"] = end_parent_run(mod.EXPERIMENT, ctx)
    return out


def run_pipeline(name: str, profile: str, overrides: dict[str, Any] | None = None, run_id: str | None = None,
                 until: str | None = None) -> dict[str, Any]:
    """Every step of ``name`` in order (or up to ``until``), without Airflow."""
    mod = pipeline(name)
    ctx = RunContext.cli(name, run_id)
    state: dict[str, Any] = {}
    for step in mod.STEPS:
        try:
            state = run_step(name, step, profile, overrides, ctx, state)
        except BaseException as exc:
            try:
                end_parent_run(mod.EXPERIMENT, ctx, status="FAILED", error=exc)
            except TrackingUnavailableError:
                log.error("%s: could not mark run %s FAILED in MLflow: the tracking server is gone", name, ctx.run_id)
            raise
        if step == until:
            break
    return state
