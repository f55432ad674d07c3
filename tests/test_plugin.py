"""The Airflow plugin: loads, and turns a task's return value into its MLflow run address."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_dags import airflow_env


@pytest.mark.slow  # an Airflow subprocess
def test_plugin_loads_in_airflow(tmp_path: Path) -> None:
    code = (
        "from airflow import plugins_manager as pm; "
        "pm.ensure_plugins_loaded() if hasattr(pm, 'ensure_plugins_loaded') else None;"
        "print([l.name for l in pm.get_global_operator_extra_links()])"
    )
    res = subprocess.run([sys.executable, "-c", code], env=airflow_env(tmp_path / "af", tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "MLflow run" in res.stdout


def test_run_url_from_task_return_value(monkeypatch) -> None:
    sys.path.insert(0, str(REPO / "plugins"))
    try:
        from mlflow_links import run_url
    finally:
        sys.path.remove(str(REPO / "plugins"))
    monkeypatch.setenv("MLFLOW_UI_URL", "http://mlflow.local:5000/")
    value = {"mlflow_run_id": "abc", "mlflow_experiment_id": "3", "other": 1}
    assert run_url(value) == "http://mlflow.local:5000/#/experiments/3/runs/abc"
    assert run_url(json.dumps(value)) == "http://mlflow.local:5000/#/experiments/3/runs/abc"
    assert run_url({"x": 1}) == "" and run_url("not json") == "" and run_url(None) == ""
