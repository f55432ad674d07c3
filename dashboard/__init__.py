"""Dashboards inside the Airflow UI: a FastAPI app that the ``dashboards`` Airflow plugin mounts in the API server
(``/dashboard``), reading MLflow through its client and Airflow through its REST API."""
