"""A small client of the Airflow 3 REST API (``/api/v2``) as the stack runs it: what the integration tests and
the production-mode benchmark use to trigger DAG runs and watch them, as a user's CI would."""

from __future__ import annotations

import time
from typing import Any

import requests


class AirflowApi:
    """Token-authenticated calls to one api-server."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base = base_url.rstrip("/")
        res = requests.post(f"{self.base}/auth/token", json={"username": username, "password": password}, timeout=30)
        res.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {res.json()['access_token']}"

    def call(self, method: str, path: str, patience_s: float = 90, **kw: Any) -> Any:
        """JSON of ``method /api/v2<path>``; HTTPError with the body on failure. A GET is retried for up to
        ``patience_s`` while the server cannot answer (its database or itself restarting: a 5xx or no
        connection), as a dashboard polling it would."""
        deadline = time.monotonic() + patience_s
        while True:
            try:
                res = self.session.request(method, f"{self.base}/api/v2{path}", timeout=30, **kw)
                if not (method == "GET" and res.status_code >= 500 and time.monotonic() < deadline):
                    break
            except requests.ConnectionError:
                if method != "GET" or time.monotonic() >= deadline:
                    raise
            time.sleep(2)
        if res.status_code >= 400:
            raise requests.HTTPError(f"{method} {path}: {res.status_code} {res.text[:500]}", response=res)
        return res.json() if res.content else None

    def wait_for_dag(self, dag_id: str, timeout_s: float = 180) -> None:
        """Until the dag-processor has parsed ``dag_id``; then unpause it."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.call("GET", f"/dags/{dag_id}")
                break
            except requests.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> str:
        """Start a DAG run now; returns its run id."""
        self.call("POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None, "conf": conf})
        return run_id

    def state(self, dag_id: str, run_id: str) -> str:
        """queued, running, success or failed."""
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait(self, runs: list[tuple[str, str]], timeout_s: float) -> dict[tuple[str, str], str]:
        """Until every (dag_id, run_id) has finished; their final states."""
        deadline = time.monotonic() + timeout_s
        states: dict[tuple[str, str], str] = {}
        while len(states) < len(runs) and time.monotonic() < deadline:
            for run in runs:
                if run not in states and (st := self.state(*run)) in ("success", "failed"):
                    states[run] = st
            time.sleep(3)
        return {run: states.get(run, "timed out") for run in runs}

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        """The state of one task instance (None before the scheduler has set one)."""
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run (state, hostname, try_number...)."""
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
