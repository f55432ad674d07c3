"""Production mode end to end: DAG runs triggered through the Airflow REST API at the same time, executed by
two Celery workers, tracked on the MLflow server (authenticated), their Spark jobs on the Spark Connect server
of the standalone cluster; and a Celery worker killed mid-task, the task retried on the other one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def api(stack: dict[str, Any]) -> Any:
    from stack.airflow_api import AirflowApi

    s = stack["settings"]
    return AirflowApi(stack["env"]["AIRFLOW__API__BASE_URL"], s["AIRFLOW_ADMIN_USER"], s["AIRFLOW_ADMIN_PASSWORD"])


def worker_log(n: int) -> str:
    from stack.settings import stack_dir

    return (stack_dir() / "logs" / f"airflow-worker-{n}.log").read_text(errors="replace")


def test_status_lists_every_service_up(stack: dict[str, Any]) -> None:
    res = subprocess.run([sys.executable, "-m", "stack", "status"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert {"postgres", "redis", "mlflow", "airflow-api-server", "airflow-scheduler", "airflow-worker-1",
            "airflow-worker-2", "spark-master", "spark-worker-1", "spark-connect", "ray-head"} <= set(names)


LOOPBACK = ("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:")


def listening_by_service() -> dict[str, list[str]]:
    """Every listening TCP address, by the stack service whose process group owns it."""
    import re

    from stack.services import pid_of
    from stack.settings import stack_dir

    groups = {pid_of(p.stem): p.stem for p in (stack_dir() / "pids").glob("*.pid")}
    out: dict[str, list[str]] = {}
    for line in subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout.splitlines():
        for pid in re.findall(r"pid=(\d+)", line):
            try:
                pgid = os.getpgid(int(pid))
            except ProcessLookupError:
                continue
            if pgid in groups:
                out.setdefault(groups[pgid], []).append(line.split()[3])
    return out


def test_services_listen_on_loopback_and_mlflow_needs_a_password(stack: dict[str, Any]) -> None:
    import requests

    env = stack["env"]
    assert requests.get(f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/experiments/search?max_results=1",
                        timeout=10).status_code == 401
    listening = listening_by_service()
    assert {"postgres", "redis", "mlflow", "airflow-api-server", "spark-master", "spark-connect"} <= set(listening)
    # Ray 2.60's GCS and raylet bind every interface whatever the node address (README: firewall them).
    wide = {svc: [a for a in addrs if not a.startswith(LOOPBACK)] for svc, addrs in listening.items()
            if svc != "ray-head"}
    assert not any(wide.values()), f"listening beyond loopback: {wide}"


def test_concurrent_runs_on_both_workers(stack: dict[str, Any]) -> None:
    import mlflow

    client = api(stack)
    tag = time.strftime("%H%M%S")  # a reused stack keeps earlier runs: ids must not collide
    # budget_bandits runs on the stack in the worker-kill test below.
    runs = [("pricing_models", f"it_pricing_{tag}", {"profile": "smoke", "n_sessions": 2500, "xgb_rounds": 150,
                                                     "mt_epochs": 5}),
            ("avazu_ctr", f"it_avazu_seed1_{tag}", {"profile": "smoke", "seed": 1}),
            ("avazu_ctr", f"it_avazu_seed2_{tag}", {"profile": "smoke", "seed": 2})]
    before = [worker_log(1).count(" received"), worker_log(2).count(" received")]
    for dag_id in {r[0] for r in runs}:
        client.wait_for_dag(dag_id)
    t0 = time.monotonic()
    for dag_id, run_id, conf in runs:
        client.trigger(dag_id, run_id, conf)
    states = client.wait([(d, r) for d, r, _ in runs], timeout_s=1200)
    print(f"{len(runs)} concurrent runs: {time.monotonic() - t0:.0f} s")
    assert set(states.values()) == {"success"}, states
    received = [worker_log(1).count(" received") - before[0], worker_log(2).count(" received") - before[1]]
    assert min(received) > 0, f"tasks per worker: {received}"
    mlflow_client = mlflow.MlflowClient(stack["env"]["MLFLOW_TRACKING_URI"])
    os.environ.update({k: stack["env"][k] for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")})
    names = {m.name for m in mlflow_client.search_registered_models()}
    assert {"ctr_lightgbm", "agent_classifier", "pricing_multitask", "pricing_rules"} <= names
    champ = mlflow_client.get_model_version_by_alias("ctr_lightgbm", "champion")
    versions = mlflow_client.search_model_versions("name = 'ctr_lightgbm'")
    assert len(versions) >= 2 and {v.tags["promotion"] for v in versions} == {"done"}
    assert max(float(v.tags["score"]) for v in versions) == float(champ.tags["score"])  # the better one won


def test_a_killed_worker_s_task_is_retried_on_the_other(stack: dict[str, Any]) -> None:
    """kill -9 the Celery worker running ``simulate``: the task is retried (on the worker left), the run
    succeeds, and the killed attempt's MLflow run is closed as KILLED, not left RUNNING."""
    import mlflow

    from stack.services import pid_of

    client = api(stack)
    client.wait_for_dag("budget_bandits")
    run_id = client.trigger("budget_bandits", f"it_worker_killed_{time.strftime('%H%M%S')}", {"profile": "smoke"})
    marker = f"run_id={run_id}/task_id=simulate/attempt=1"
    deadline, victim = time.monotonic() + 300, None
    while victim is None and time.monotonic() < deadline:
        victim = next((n for n in (1, 2) if marker in worker_log(n)), None)
        time.sleep(0.5)
    assert victim is not None, "simulate never started"
    time.sleep(3)  # inside the step, its MLflow run open
    os.killpg(pid_of(f"airflow-worker-{victim}"), signal.SIGKILL)
    t0 = time.monotonic()
    states = client.wait([("budget_bandits", run_id)], timeout_s=600)
    print(f"recovered from the killed worker in {time.monotonic() - t0:.0f} s")
    subprocess.run([sys.executable, "-m", "stack", "up"], cwd=REPO, capture_output=True, timeout=600)
    assert states[("budget_bandits", run_id)] == "success"
    simulate = next(t for t in client.task_instances("budget_bandits", run_id) if t["task_id"] == "simulate")
    assert simulate["try_number"] >= 2
    assert f"run_id={run_id}/task_id=simulate/attempt=2" in worker_log(3 - victim)
    os.environ.update({k: stack["env"][k] for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")})
    runs = mlflow.MlflowClient(stack["env"]["MLFLOW_TRACKING_URI"]).search_runs(
        [mlflow.MlflowClient(stack["env"]["MLFLOW_TRACKING_URI"]).get_experiment_by_name("budget_bandits").experiment_id],
        f"tags.`airflow.run_id` = '{run_id}' and tags.`airflow.task_id` = 'simulate'")
    assert sorted(r.info.status for r in runs) == ["FINISHED", "KILLED"]
