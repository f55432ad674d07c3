"""Addresses of MLflow UI pages (``MLFLOW_UI_URL``, default http://127.0.0.1:5000)."""

from __future__ import annotations

import os


def mlflow_ui_url() -> str:
    """The MLflow UI a user's browser reaches."""
    return os.environ.get("MLFLOW_UI_URL", "http://127.0.0.1:5000").rstrip("/")


def run_address(experiment_id: str, run_id: str) -> str:
    """The MLflow UI page of one run."""
    return f"{mlflow_ui_url()}/#/experiments/{experiment_id}/runs/{run_id}"
