"""Airflow plugin: the dashboards (dashboard/app.py) mounted in the API server at /dashboard, with a 'Dashboards'
entry in the UI's navigation that opens them inside the Airflow UI."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from dashboard.app import create_app


class DashboardsPlugin(AirflowPlugin):
    name = "dashboards"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/dashboard", "name": "Dashboards"}]
    external_views = [{"name": "Dashboards", "href": "/dashboard/", "destination": "nav", "url_route": "dashboards"}]
