"""Production mode, measured: time for ``make stack`` to be healthy; five runs at once on the stack vs the same
five one after another on the embedded stack; what each fault costs a run; Spark features on 1M rows as a
task process (cold local JVM, the warm Spark Connect server, the standalone cluster).

``python bench/stack_production.py [up] [concurrent] [features] [faults]`` (all by default) with nothing else
running on the stack's ports; it starts the stack itself. Results in bench/results/stack_production.json
(each section replaces its own entry).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import BENCH, RESULTS, sample_parquet, write_result

REPO = BENCH.parent
sys.path.insert(0, str(REPO))
from stack import chaos  # noqa: E402
from stack.airflow_api import AirflowApi  # noqa: E402
from stack.settings import client_env, load  # noqa: E402
from tests.integration.test_stack import CONF, FAULT_PLAN  # noqa: E402  (the integration test's runs and faults)


def stack_cli(command: str) -> float:
    """``python -m stack <command>``; its wall time."""
    t0 = time.monotonic()
    # Schedules off: unpausing the scheduled DAGs would start their latest interval next to the measured runs.
    subprocess.run([sys.executable, "-m", "stack", command], cwd=REPO, check=True, capture_output=True,
                   env={**os.environ, "PLATFORM_SCHEDULES": "off"})
    return time.monotonic() - t0


def airflow() -> AirflowApi:
    s = load()
    return AirflowApi(client_env(s)["AIRFLOW__API__BASE_URL"], s["AIRFLOW_ADMIN_USER"], s["AIRFLOW_ADMIN_PASSWORD"])


def run_on_stack(runs: list[tuple[str, str, dict[str, Any]]]) -> float:
    """Trigger (dag, run_id, conf) runs at once; wall time until the last ends (each must succeed)."""
    api = airflow()
    for dag_id in {r[0] for r in runs}:
        api.wait_for_dag(dag_id)
    t0 = time.monotonic()
    for dag_id, run_id, conf in runs:
        api.trigger(dag_id, run_id, conf)
    states = api.wait([(d, r) for d, r, _ in runs], timeout_s=3600)
    if set(states.values()) != {"success"}:
        raise SystemExit(f"runs did not all succeed: {states}")
    return time.monotonic() - t0


def bench_up() -> dict[str, Any]:
    """Cold start (processes stopped, state kept, as after a reboot) and a no-op second ``make stack``."""
    stack_cli("down")
    cold = stack_cli("up")
    return {"make_stack_healthy_s": round(cold, 1), "make_stack_again_s": round(stack_cli("up"), 1)}


def bench_concurrent(tag: str) -> dict[str, Any]:
    """The five runs at once on the stack vs one after another embedded (``python -m jobs``, SQLite MLflow,
    Spark local[*]: what ``airflow dags test`` runs, without its per-run Airflow start-up)."""
    wall = run_on_stack([(dag_id, f"bench_{name}_{tag}", conf) for name, (dag_id, conf) in CONF.items()])
    root = Path(os.environ.get("BENCH_CACHE", "/tmp/adplatform-bench")) / f"embedded_{tag}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SPARK_", "RAY_", "AIRFLOW_"))}
    env.update(PLATFORM_DATA_DIR=str(root / "data"), MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
    sequential = {}
    for name, (dag_id, conf) in CONF.items():
        args = [f"--set={k}={v}" for k, v in conf.items() if k != "profile"]
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "jobs", dag_id, "--profile", conf["profile"], *args], cwd=REPO,
                       env=env, check=True, capture_output=True)
        sequential[name] = round(time.monotonic() - t0, 1)
    return {"runs": list(CONF), "stack_concurrent_wall_s": round(wall, 1),
            "embedded_sequential_wall_s": round(sum(sequential.values()), 1), "embedded_each_s": sequential}


def bench_faults(tag: str, out: dict[str, Any], save: Any) -> dict[str, Any]:
    """One run per fault of the integration test's plan, each against the same run undisturbed: the run's
    extra wall time is what the fault cost (detection, retry delay, the work redone). ``save()`` after each
    fault (a long section)."""
    api = airflow()
    base: dict[str, float] = {}
    for i, (name, task, delay, fault) in enumerate(FAULT_PLAN):
        dag_id, conf = CONF[name]
        if name not in base:
            base[name] = run_on_stack([(dag_id, f"bench_base_{name}_{tag}", conf)])
            out[f"undisturbed {name} run_s"] = round(base[name], 1)
        run_id = f"bench_fault{i}_{tag}"
        t0 = time.monotonic()
        api.trigger(dag_id, run_id, conf)
        back, hit = chaos.inject(fault, api, dag_id, run_id, task, delay)
        state = api.wait([(dag_id, run_id)], timeout_s=1800)[(dag_id, run_id)]
        wall = time.monotonic() - t0
        tries = {t["task_id"]: t["try_number"] for t in api.task_instances(dag_id, run_id)}
        label = f"{fault} during {name} {task}"
        out[label] = {"run_state": state, "service_back_s": round(back, 1), "run_s": round(wall, 1),
                      "cost_s": round(wall - base[name], 1), "hit_the_running_task": hit,
                      "retried_tasks": {k: v for k, v in tries.items() if v > 1}}
        print(label, out[label], flush=True)
        save()
    return out


TASK = """
import json, sys, time
t0 = time.perf_counter()
from jobs.spark import get_spark
from jobs.avazu_ctr.config import load
from jobs.avazu_ctr.features import write_features
spark = get_spark("bench.features_task")
t1 = time.perf_counter()
manifest = write_features(spark, sys.argv[1], sys.argv[2], load("demo", {}))
t2 = time.perf_counter()
print(json.dumps({"session_s": round(t1 - t0, 2), "features_s": round(t2 - t1, 2), "task_s": round(t2 - t0, 2),
                  "rows": manifest["rows"]}))
"""


def bench_features() -> dict[str, Any]:
    """Features on 1M rows in a fresh process, as a DAG task runs them, twice per engine."""
    sample = sample_parquet(1_000_000)
    s = load()
    env_base = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_MASTER")}
    engines = {"local[*], cold JVM per task": {},
               "Spark Connect server (SPARK_REMOTE)": {"SPARK_REMOTE": client_env(s)["SPARK_REMOTE"]},
               "standalone cluster (SPARK_MASTER)": {"SPARK_MASTER": f"spark://{s['STACK_HOST']}:{s['SPARK_MASTER_PORT']}"}}
    script = sample.parent / "features_task.py"
    script.write_text(TASK)  # a file, not -c: pyspark.sql.connect exits a -c program on import
    out = {}
    for label, extra in engines.items():
        runs = []
        for i in range(2):
            dest = sample.parent / f"features_task_{len(out)}_{i}"
            res = subprocess.run([sys.executable, str(script), str(sample), str(dest)], cwd=REPO, capture_output=True,
                                 text=True, env={**env_base, **extra, "PYTHONPATH": str(REPO)}, check=True)
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
        out[label] = {"first_task": runs[0], "second_task": runs[1]}
        print(label, out[label], flush=True)
    return {"target": "1M rows as a task < 15 s", **out}


def main(sections: list[str]) -> None:
    tag = time.strftime("%H%M%S")
    path = RESULTS / "stack_production.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    result.pop("machine", None)
    for key in ("benchmark", "measured_at"):
        result.pop(key, None)

    def save() -> None:
        write_result("stack_production", result)

    if "up" in sections:
        result["up"] = bench_up()
        save()
    else:
        stack_cli("up")
    if "concurrent" in sections:
        result["concurrent"] = bench_concurrent(tag)
        save()
    if "features" in sections:
        result["features_1m_as_a_task"] = bench_features()
        save()
    if "faults" in sections:
        result["faults"] = {}
        bench_faults(tag, result["faults"], save)
    result["down_s"] = round(stack_cli("down"), 1)
    save()


if __name__ == "__main__":
    main(sys.argv[1:] or ["up", "concurrent", "features", "faults"])
