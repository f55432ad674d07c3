"""Airflow plugin: an 'MLflow' entry in the UI menu and an 'MLflow run' link on every task.

Each pipeline task returns a dict with ``mlflow_run_id`` and ``mlflow_experiment_id``
(see ``jobs.runner``); the link reads that XCom and opens the task's MLflow run.
The MLflow UI address comes from ``MLFLOW_UI_URL`` (default http://127.0.0.1:5000).
"""

from __future__ import annotations

import json
from typing import Any

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

from dashboard.links import mlflow_ui_url, run_address


def run_url(value: Any) -> str:
    """The MLflow UI address of the run named in a task's return value, or '' if none."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ""
    if not isinstance(value, dict) or not value.get("mlflow_run_id") or not value.get("mlflow_experiment_id"):
        return ""
    return run_address(value["mlflow_experiment_id"], value["mlflow_run_id"])


class MlflowRunLink(BaseOperatorLink):
    """Task button 'MLflow run': evaluated by the API server from the task's XCom."""

    name = "MLflow run"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.execute(
                XComModel.get_many(key="return_value", run_id=ti_key.run_id, dag_ids=ti_key.dag_id,
                                   task_ids=ti_key.task_id, map_indexes=ti_key.map_index)
                .with_only_columns(XComModel.value)
            ).first()
        return run_url(row.value) if row else ""


class MlflowPlugin(AirflowPlugin):
    name = "mlflow_links"
    global_operator_extra_links = [MlflowRunLink()]
    external_views = [{"name": "MLflow", "href": mlflow_ui_url(), "destination": "nav", "url_route": "mlflow"}]
