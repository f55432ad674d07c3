"""Celery settings of the stack's Airflow workers (``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS``): Airflow's
defaults, plus the heavy libraries every task needs imported once per worker, before it forks.

An Airflow 3 Celery worker runs each task in a process forked from the worker (no exec), so what the worker
has imported the task has too: pandas, MLflow, scikit-learn, Great Expectations and torch cost 3-10 s of CPU
per task otherwise, on every task of every run. Ray and Spark Connect are left out: gRPC must not be set up
before a fork."""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)
PRELOAD = ("numpy", "pandas", "pyarrow.parquet", "sklearn.metrics", "mlflow", "lightgbm", "xgboost", "torch",
           "great_expectations", "jobs.runner")

log = logging.getLogger(__name__)


@worker_init.connect
def preload(**_: Any) -> None:
    """Import :data:`PRELOAD` in the worker's main process (signal handler; the pool forks after it)."""
    t0 = time.perf_counter()
    quiet = logging.getLogger("great_expectations")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # its import logs one line per registered function
    try:
        for name in PRELOAD:
            importlib.import_module(name)
    finally:
        quiet.setLevel(level)
    log.warning("preloaded %d modules for tasks in %.1f s", len(PRELOAD), time.perf_counter() - t0)
