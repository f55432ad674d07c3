"""Production mode end to end: five DAG runs triggered through the Airflow REST API at the same time, executed
by two Celery workers, tracked on the MLflow server (authenticated), their Spark jobs on the Spark Connect
server of the standalone cluster, while faults hit them (Celery workers and a Spark worker killed, MLflow and
Postgres restarted); each run ends with the metrics of the same run done alone on the embedded stack;
market_rl_training sampling on the Ray head; and no secret written anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

PRICING = {"profile": "smoke", "n_sessions": 2500, "xgb_rounds": 150, "mt_epochs": 5}
# The five runs of production mode, smoke profiles: (DAG, name, conf). Data sources named explicitly: the
# stack's environment holds (canary) Kaggle credentials, with which `auto` would try to download.
RUNS = [("pricing_models", "pricing", PRICING),
        ("avazu_ctr", "avazu_seed1", {"profile": "smoke", "seed": 1, "source": "synthetic"}),
        ("avazu_ctr", "avazu_seed2", {"profile": "smoke", "seed": 2, "source": "synthetic"}),
        ("mmm", "mmm", {"profile": "smoke", "source": "synthetic"}),
        ("budget_bandits", "budget", {"profile": "smoke", "insights_backend": "llm"})]
CONF = {name: (dag_id, conf) for dag_id, name, conf in RUNS}
# Faults injected into the five runs (stack/chaos.py): (run, task whose first attempt triggers it, seconds into
# the task, fault). A Celery worker kill also takes down whatever else that worker runs: retried too.
FAULT_PLAN = [("pricing", "session_features", 10, "kill spark-worker-1"),  # the longest Spark job
              ("avazu_seed2", "features", 0, "kill celery-worker"),
              ("avazu_seed1", "train", 0, "kill celery-worker"),
              ("avazu_seed2", "train", 1, "restart mlflow"),
              ("avazu_seed1", "evaluate_and_promote", 1, "restart postgres")]
TAG = time.strftime("%H%M%S")  # a reused stack keeps earlier runs: ids must not collide


def api(stack: dict[str, Any]) -> Any:
    from stack.airflow_api import AirflowApi

    s = stack["settings"]
    return AirflowApi(stack["env"]["AIRFLOW__API__BASE_URL"], s["AIRFLOW_ADMIN_USER"], s["AIRFLOW_ADMIN_PASSWORD"])


def mlflow_client(stack: dict[str, Any]) -> Any:
    import mlflow

    os.environ.update({k: stack["env"][k] for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")})
    return mlflow.MlflowClient(stack["env"]["MLFLOW_TRACKING_URI"])


def task_runs(client: Any, experiment: str, run_id: str) -> list[Any]:
    """The MLflow task runs (every attempt) of one DAG run."""
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id],
                              f"tags.`airflow.run_id` = '{run_id}' and tags.`platform.role` = 'task'")


def task_metrics(client: Any, experiment: str, run_id: str) -> dict[str, dict[str, float]]:
    """Each task's metrics from its successful attempt, without timings (and the champion's scores, which
    depend on what ran before), and the thread count it was given (the last digits of a fit can depend on it)."""
    return {r.data.tags["airflow.task_id"]: {**{k: v for k, v in r.data.metrics.items()
                                                if "seconds" not in k and "champion" not in k},
                                             "threads": float(r.data.tags.get("platform.threads", -1))}
            for r in task_runs(client, experiment, run_id) if r.info.status == "FINISHED"}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The five runs one after another on the embedded stack (SQLite MLflow, Spark local[*]), in the
    background from the first test that asks (the runs on the stack meanwhile): ``result()`` waits and returns
    their metrics."""
    root = tmp_path_factory.mktemp("embedded")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "SPARK_", "RAY_", "AIRFLOW_", "KAGGLE_", "LLM_"))}
    env.update(PLATFORM_DATA_DIR=str(root / "data"), MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
    with open(root / "runs.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("embedded_runs.py"))], cwd=REPO,
                                env=env, stdout=log, stderr=subprocess.STDOUT)

    class Result:
        def result(self) -> dict[str, dict[str, dict[str, float]]]:
            assert proc.wait(timeout=1200) == 0, "embedded runs failed: log in " + str(root / "runs.log")
            import mlflow

            client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
            return {name: task_metrics(client, CONF[name][0], f"emb_{name}") for name in CONF}

    yield Result()
    if proc.poll() is None:
        proc.kill()


@pytest.fixture(scope="module")
def concurrent(stack: dict[str, Any], embedded: Any) -> dict[str, Any]:
    """The five runs triggered at once through the REST API, with :data:`FAULT_PLAN` injected as they go
    (each fault in its own thread: a restart that takes a minute must not delay the next past its task). Their
    states, run ids, wall time, each fault's recovery (or error) and the tasks a worker kill hit."""
    from stack import chaos
    from stack.settings import stack_dir

    client = api(stack)
    run_ids = {name: f"it_{name}_{TAG}" for name in CONF}
    before = {n: chaos.worker_log(n).count(" received") for n in chaos.workers()}
    connect_log = stack_dir() / "logs" / "spark-connect.log"
    connect_before = connect_log.stat().st_size
    for dag_id in {dag_id for dag_id, _ in CONF.values()}:
        client.wait_for_dag(dag_id)
    try:
        champion_before = mlflow_client(stack).get_model_version_by_alias("ctr_lightgbm", "champion").version
    except Exception:  # no such model or alias yet
        champion_before = None
    t0 = time.monotonic()
    for name, (dag_id, conf) in CONF.items():
        client.trigger(dag_id, run_ids[name], conf)
    with ThreadPoolExecutor(len(FAULT_PLAN)) as pool:
        injected = {(name, task, fault): pool.submit(chaos.inject, fault, api(stack), CONF[name][0], run_ids[name],
                                                     task, delay, 1200)
                    for name, task, delay, fault in FAULT_PLAN}
        states = client.wait([(CONF[name][0], run_ids[name]) for name in CONF], timeout_s=1800)
        seconds = time.monotonic() - t0
        faults: dict[tuple[str, str, str], Any] = {}
        for key, future in injected.items():
            try:
                faults[key] = future.result(timeout=600)
            except Exception as exc:  # reported by the fault test, not as an error of every test
                faults[key] = exc
    print(f"{len(CONF)} concurrent runs under {len(FAULT_PLAN)} faults: {seconds:.0f} s; faults (seconds until "
          f"the service was back, hit the running task): {faults}")
    return {"states": states, "run_ids": run_ids, "seconds": seconds, "faults": faults,
            "champion_before": champion_before,
            "received": {n: chaos.worker_log(n).count(" received") - before[n] for n in chaos.workers()},
            "spark_connect_log": connect_log.read_text(errors="replace")[connect_before:]}


def test_status_lists_every_service_up(stack: dict[str, Any]) -> None:
    for _ in range(5):  # a service busy for a moment right after the start is not down
        res = subprocess.run([sys.executable, "-m", "stack", "status"], cwd=REPO, capture_output=True, text=True,
                             timeout=300)
        if res.returncode == 0:
            break
        time.sleep(5)
    assert res.returncode == 0, res.stdout
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert {"postgres", "redis", "mlflow", "airflow-api-server", "airflow-scheduler", "airflow-worker-1",
            "airflow-worker-2", "spark-master", "spark-worker-1", "spark-connect", "ray-head",
            "supervisor"} <= set(names)


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
    # Ray 2.60's GCS and raylet bind every interface whatever the node address (README: firewall them; the
    # stack turns on Ray's token authentication).
    wide = {svc: [a for a in addrs if not a.startswith(LOOPBACK)] for svc, addrs in listening.items()
            if svc != "ray-head"}
    assert not any(wide.values()), f"listening beyond loopback: {wide}"


def test_concurrent_runs_on_both_workers_and_the_cluster(stack: dict[str, Any], concurrent: dict[str, Any]) -> None:
    import requests

    assert set(concurrent["states"].values()) == {"success"}, concurrent["states"]
    assert min(concurrent["received"].values()) > 0, f"tasks per worker: {concurrent['received']}"
    client = mlflow_client(stack)
    names = {m.name for m in client.search_registered_models()}
    assert {"ctr_lightgbm", "agent_classifier", "pricing_multitask", "pricing_rules", "mmm"} <= names
    # Two avazu runs raced for ctr_lightgbm (under the registry lock, across workers): each compared itself
    # with the champion of its moment on its own holdout, no promotion is left pending, and the alias is on
    # the last winner.
    versions = client.search_model_versions("name = 'ctr_lightgbm'")
    assert {v.tags["promotion"] for v in versions} == {"done"}
    promotions = sorted((r for name in ("avazu_seed1", "avazu_seed2")
                         for r in task_runs(client, "avazu_ctr", concurrent["run_ids"][name])
                         if r.data.tags["airflow.task_id"] == "evaluate_and_promote" and r.info.status == "FINISHED"),
                        key=lambda r: int(r.data.tags["registered_version"]))
    assert len(promotions) == 2
    for r in promotions:
        m = r.data.metrics
        wins = "champion_holdout_auc" not in m or m["holdout_auc"] >= m["champion_holdout_auc"]
        assert (r.data.tags["alias"] == "champion") == wins, (r.data.tags, m)
    winners = [r.data.tags["registered_version"] for r in promotions if r.data.tags["alias"] == "champion"]
    if winners:  # (a reused stack may hold a better champion from earlier runs)
        assert client.get_model_version_by_alias("ctr_lightgbm", "champion").version == winners[-1]
    else:
        assert concurrent["champion_before"] is not None, "with no champion before, the first to promote wins"
    # The Spark jobs ran on the standalone cluster: the Connect server is its application, on both workers.
    s = stack["settings"]
    master = requests.get(f"http://{s['STACK_HOST']}:{s['SPARK_MASTER_WEBUI_PORT']}/json/", timeout=10).json()
    assert master["aliveworkers"] == int(s["SPARK_WORKERS"]) and master["activeapps"], master


def test_faults_during_the_runs_lose_nothing(stack: dict[str, Any], concurrent: dict[str, Any]) -> None:
    """A Spark worker killed during a Spark job, Celery workers killed during features and train, the MLflow
    server and Postgres restarted: every run succeeded (test above) with the undisturbed metrics (test below),
    the attempts a kill took down were retried, Spark reran the lost executor's tasks, no MLflow run is left
    RUNNING, and no task finished more often than Airflow ran it."""
    faults = concurrent["faults"]
    errors = {k: repr(v) for k, v in faults.items() if isinstance(v, Exception)}
    assert not errors, f"faults not injected: {errors}"
    client = api(stack)
    hit = [(concurrent["run_ids"][name], task) for (name, task, fault), (_, running) in faults.items()
           if fault == "kill celery-worker" and running]
    tries = {(r, t["task_id"]): t["try_number"] for name, r in concurrent["run_ids"].items()
             for t in client.task_instances(CONF[name][0], r)}
    assert hit and all(tries[h] >= 2 for h in hit), (hit, tries)
    assert "Lost executor" in concurrent["spark_connect_log"]
    mlflow = mlflow_client(stack)
    for name, run_id in concurrent["run_ids"].items():
        dag_id = CONF[name][0]
        attempts = task_runs(mlflow, dag_id, run_id)
        assert not [r for r in attempts if r.info.status == "RUNNING"], f"{run_id}: an attempt left RUNNING"
        assert {r.info.status for r in attempts} <= {"FINISHED", "KILLED", "FAILED"}
        finished = Counter(r.data.tags["airflow.task_id"] for r in attempts if r.info.status == "FINISHED")
        # At least once, as Airflow promises: a fault between an attempt's end in MLflow and Airflow recording it
        # (a worker killed, Postgres restarting) makes Airflow run that task again. A second finished attempt is
        # allowed only where Airflow counts a retry for it, never more finished attempts than tries.
        again = {task: n for task, n in finished.items() if n > 1}
        assert all(n <= tries[(run_id, task)] for task, n in again.items()), (
            f"{run_id}: a task finished more often than Airflow ran it: {again}, tries {tries}")
    versions = mlflow.search_model_versions("name = 'ctr_lightgbm'")
    assert {v.tags["promotion"] for v in versions} == {"done"}


def test_each_run_equals_the_same_run_alone_on_the_embedded_stack(stack: dict[str, Any], concurrent: dict[str, Any],
                                                                  rl_run: dict[str, Any], embedded: Any) -> None:
    """Five concurrent runs, two of them under faults, give the metrics of each run done alone (rl_run: the
    market_rl_training run starts before this waits for the embedded runs)."""
    client = mlflow_client(stack)
    alone = embedded.result()
    differ = []  # every difference at once: one alone says little about where it came from
    for name, (dag_id, _) in CONF.items():
        on_stack = task_metrics(client, dag_id, concurrent["run_ids"][name])
        assert set(on_stack) == set(alone[name]), name
        for task, metrics in on_stack.items():
            assert metrics.keys() == alone[name][task].keys(), (name, task)
            differ += [f"{name}.{task}.{key}: {value!r} on the stack, {alone[name][task][key]!r} alone"
                       for key, value in metrics.items() if value != pytest.approx(alone[name][task][key], abs=1e-9)]
    assert not differ, "\n".join(differ)


def ray_env_runner_actors() -> int:
    """How many RLlib env runner actors the Ray head has started (its worker logs name their actor's class: the
    env runner the market's algorithms are configured with)."""
    from jobs.market.sampling import CountOnceEnvRunner
    from stack.settings import stack_dir

    logs = (stack_dir() / "ray").glob("session_*/logs/worker-*.out")
    return sum(f":actor_name:{CountOnceEnvRunner.__name__}" in p.read_text(errors="replace") for p in logs)


@pytest.fixture(scope="module")
def rl_run(stack: dict[str, Any]) -> dict[str, Any]:
    """market_rl_training (smoke) triggered on the stack; its run id and the env runner actors before it."""
    client = api(stack)
    client.wait_for_dag("market_rl_training")
    before = ray_env_runner_actors()
    return {"run_id": client.trigger("market_rl_training", f"it_rl_{TAG}", {"profile": "smoke"}), "before": before}


def test_market_rl_training_samples_on_the_ray_head(stack: dict[str, Any], rl_run: dict[str, Any]) -> None:
    run_id = rl_run["run_id"]
    states = api(stack).wait([("market_rl_training", run_id)], timeout_s=1200)
    assert states[("market_rl_training", run_id)] == "success"
    assert ray_env_runner_actors() - rl_run["before"] >= 2  # cluster_env_runners per family: actors on the head
    finished = {r.data.tags["airflow.task_id"] for r in task_runs(mlflow_client(stack), "market_rl_training", run_id)
                if r.info.status == "FINISHED"}
    assert {"train_bidders", "evaluate_bidders", "train_pricing", "register"} <= finished


def dump_databases(stack: dict[str, Any], out: Path) -> list[Path]:
    """pg_dump of the stack's Airflow, MLflow and MLflow-auth databases."""
    from stack.services import pg_bin
    from stack.settings import pg_url

    s, dumps = stack["settings"], []
    for db in (s["AIRFLOW_DB"], s["MLFLOW_DB"], s["MLFLOW_AUTH_DB"]):
        path = out / f"{db}.sql"
        res = subprocess.run([str(pg_bin() / "pg_dump"), "--dbname", pg_url(s, db), "--file", str(path)],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        dumps.append(path)
    return dumps


def test_no_secret_in_any_log_artifact_or_database(stack: dict[str, Any], concurrent: dict[str, Any],
                                                   tmp_path: Path) -> None:
    """The canary credentials planted in the stack's environment and the stack's own generated secrets
    appear in no log, run output, MLflow artifact, param or tag, nor in the databases."""
    from stack.settings import SECRET_KEYS, stack_dir

    if not stack["canaries"]:
        assert os.environ.get("CI") != "true", "CI starts its own stack, with the canaries planted"
        pytest.skip("this stack was started before the tests: no canary was planted in its environment")
    # The supervisor starts workers again with its environment (a Celery worker's own is overwritten by its
    # process title).
    supervisor_env = (Path("/proc") / str(_supervisor_pid()) / "environ").read_bytes()
    assert stack["canaries"]["KAGGLE_KEY"].encode() in supervisor_env  # planted where the tasks run
    secrets = {**stack["canaries"], **{k: stack["settings"][k] for k in SECRET_KEYS}}
    secrets.pop("LLM_API_BASE")
    secrets.pop("KAGGLE_USERNAME")  # a user name, not a secret
    d = stack_dir()
    places = [p for folder in (d / "logs", d / "airflow" / "logs", d / "mlflow" / "artifacts", d / "data", d / "ray")
              for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    places += dump_databases(stack, tmp_path)
    assert len(places) > 100
    leaks = {}
    for path in places:
        data = path.read_bytes()
        found = [k for k, v in secrets.items() if v.encode() in data]
        if found:
            leaks[str(path)] = found
    assert not leaks, f"secrets written to: {leaks}"


def _supervisor_pid() -> int:
    from stack.services import pid_of

    pid = pid_of("supervisor")
    assert pid is not None
    return pid
