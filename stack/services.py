"""The services of production mode, each its own process on the loopback interface: Postgres, Redis, an
MLflow server (basic auth, Postgres, served artifacts), Airflow 3 with the CeleryExecutor (api-server,
scheduler, dag-processor, triggerer, Celery workers), a Spark standalone cluster with a Spark Connect server,
and a Ray head. Each writes ``.stack/logs/<name>.log``; its pid is in ``.stack/pids/<name>.pid``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jobs.paths import atomic_path
from stack.settings import REPO, client_env, pg_url, stack_dir

VENV_BIN = Path(sys.executable).parent


@dataclass
class Service:
    """One process: how to start it, where it answers, and how to tell it is healthy."""

    name: str
    argv: list[str]
    address: str
    healthy: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: int = 15
    prepare: Callable[[], None] | None = None


def tcp_open(host: str, port: int | str) -> bool:
    """Whether something accepts connections on host:port."""
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str, check: Callable[[bytes], bool] = lambda body: True) -> bool:
    """Whether ``url`` answers 200 (and its body passes ``check``)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # a busy 2-core host can take seconds
            return resp.status == 200 and check(resp.read())
    except (OSError, ValueError):
        return False


def pg_bin() -> Path | None:
    """The newest Postgres server binaries installed (Debian's layout), or None."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


def as_postgres(argv: list[str]) -> list[str]:
    """Postgres refuses to run as root: run it as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _airflow_health(component: str) -> Callable[[], bool]:
    def check(s: dict[str, str]) -> bool:
        def body_ok(body: bytes) -> bool:
            return json.loads(body).get(component, {}).get("status") == "healthy"
        return http_ok(f"http://{s['STACK_HOST']}:{s['STACK_AIRFLOW_PORT']}/api/v2/monitor/health", body_ok)
    return check  # type: ignore[return-value]


START_MARK = "--- make stack started this service ---"


def _log_says(name: str, text: str) -> bool:
    """Whether the service's log says ``text`` since its latest start (a log is kept across restarts)."""
    path = stack_dir() / "logs" / f"{name}.log"
    return path.exists() and text in path.read_text(errors="replace").rpartition(START_MARK)[2]


def define(s: dict[str, str]) -> list[Service]:
    """Every service of the stack, in start order."""
    from stack import prepare

    host, d = s["STACK_HOST"], stack_dir()
    env = client_env(s)
    spark_home = Path(__import__("pyspark").__file__).parent
    spark_env = {"SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": host, "SPARK_LOG_DIR": str(d / "logs"),
                 "SPARK_PID_DIR": str(d / "pids"), "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(REPO),
                 "SPARK_NO_DAEMONIZE": "1", "SPARK_REMOTE": None}  # None: not in its environment
    master = f"spark://{host}:{s['SPARK_MASTER_PORT']}"
    pg = pg_bin() or Path("/usr/lib/postgresql/15/bin")
    out = [
        Service("postgres", as_postgres([str(pg / "postgres"), "-D", str(d / "postgres" / "data"),
                                         "-c", f"listen_addresses={host}", "-p", s["POSTGRES_PORT"],
                                         "-k", str(d / "postgres" / "run")]),
                f"postgresql://{host}:{s['POSTGRES_PORT']}", lambda: tcp_open(host, s["POSTGRES_PORT"]),
                stop_signal=2, prepare=lambda: prepare.postgres(s, pg)),
        Service("redis", [shutil.which("redis-server") or "redis-server", str(d / "redis" / "redis.conf")],
                f"redis://{host}:{s['REDIS_PORT']}", lambda: tcp_open(host, s["REDIS_PORT"]),
                prepare=lambda: prepare.redis(s)),
        Service("mlflow", [str(VENV_BIN / "mlflow"), "server", "--host", host, "--port", s["STACK_MLFLOW_PORT"],
                           "--app-name", "basic-auth", "--serve-artifacts", "--workers", "1",
                           "--artifacts-destination", str(d / "mlflow" / "artifacts")],
                env["MLFLOW_TRACKING_URI"], lambda: http_ok(f"{env['MLFLOW_TRACKING_URI']}/health"),
                env={"MLFLOW_BACKEND_STORE_URI": pg_url(s, s["MLFLOW_DB"]),
                     "MLFLOW_FLASK_SERVER_SECRET_KEY": s["MLFLOW_SECRET_KEY"],
                     "MLFLOW_AUTH_CONFIG_PATH": str(d / "mlflow" / "basic_auth.ini")},
                prepare=lambda: prepare.mlflow(s)),
        Service("airflow-api-server", [str(VENV_BIN / "airflow"), "api-server"], env["AIRFLOW__API__BASE_URL"],
                lambda: http_ok(f"{env['AIRFLOW__API__BASE_URL']}/api/v2/monitor/health"),
                prepare=lambda: prepare.airflow(s, env)),
    ]
    for component in ("scheduler", "dag-processor", "triggerer"):
        argv = [str(VENV_BIN / "airflow"), component] + (["--skip-serve-logs"] if component == "triggerer" else [])
        key = component.replace("-", "_")
        out.append(Service(f"airflow-{component}", argv, "(no port)",
                           lambda key=key: _airflow_health(key)(s)))  # type: ignore[misc]
    for i in range(1, int(s["CELERY_WORKERS"]) + 1):
        name = f"airflow-worker-{i}"
        out.append(Service(name, [str(VENV_BIN / "airflow"), "celery", "worker", "--celery-hostname",
                                  f"worker{i}@%h", "--skip-serve-logs"], "(Celery, via Redis)",
                           lambda name=name: _log_says(name, " ready.")))  # type: ignore[misc]
    spark_class = str(spark_home / "bin" / "spark-class")
    out.append(Service("spark-master", [spark_class, "org.apache.spark.deploy.master.Master",
                                        "--host", host, "--port", s["SPARK_MASTER_PORT"],
                                        "--webui-port", s["SPARK_MASTER_WEBUI_PORT"]],
                       master, lambda: http_ok(f"http://{host}:{s['SPARK_MASTER_WEBUI_PORT']}/json/"), env=spark_env))
    for i in range(1, int(s["SPARK_WORKERS"]) + 1):
        port = int(s["SPARK_WORKER_WEBUI_PORT"]) + i - 1
        out.append(Service(f"spark-worker-{i}", [spark_class,
                                                 "org.apache.spark.deploy.worker.Worker", master, "--host", host,
                                                 "--cores", s["SPARK_WORKER_CORES"], "--memory",
                                                 s["SPARK_WORKER_MEMORY"], "--webui-port", str(port),
                                                 "--work-dir", str(d / "spark" / f"worker-{i}")],
                           f"http://{host}:{port}",
                           lambda port=port, i=i: http_ok(f"http://{host}:{port}/json/")  # type: ignore[misc]
                           and _log_says(f"spark-worker-{i}", "Successfully registered with master"),
                           env=spark_env))
    out.append(Service("spark-connect", [str(spark_home / "sbin" / "start-connect-server.sh"), "--wait",
                                         "--master", master,
                                         "--conf", f"spark.connect.grpc.binding.address={host}",
                                         "--conf", f"spark.connect.grpc.binding.port={s['SPARK_CONNECT_PORT']}",
                                         "--conf", f"spark.executorEnv.PYTHONPATH={REPO}",
                                         "--conf", f"spark.executorEnv.PYSPARK_PYTHON={sys.executable}",
                                         "--conf", "spark.ui.enabled=false",
                                         "--conf", f"spark.cores.max={s['SPARK_CONNECT_CORES']}",
                                         "--conf", "spark.executor.cores=1",  # spread over the workers
                                         "--conf",
                                         f"spark.sql.shuffle.partitions={s['SPARK_CONNECT_SHUFFLE_PARTITIONS']}",
                                         "--conf", f"spark.driver.host={host}"],
                       env["SPARK_REMOTE"], lambda: tcp_open(host, s["SPARK_CONNECT_PORT"]), env=spark_env))
    out.append(Service("ray-head", [str(VENV_BIN / "ray"), "start", "--head", "--block", "--node-ip-address", host,
                                    "--port", s["RAY_PORT"], "--include-dashboard", "false", "--num-cpus", "2",
                                    "--temp-dir", str(d / "ray"), "--disable-usage-stats"],
                       env["RAY_ADDRESS"],
                       lambda: tcp_open(host, s["RAY_PORT"]) and _log_says("ray-head", "Ray runtime started"),
                       # Its SIGTERM handler otherwise waits 30 s for Ray Serve replicas to drain (none here).
                       env={"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}))
    # Last: restarts whatever of the above crashes (stack/supervisor.py).
    out.append(Service("supervisor", [sys.executable, "-m", "stack", "supervise"], "(restarts crashed services)",
                       lambda: _log_says("supervisor", "supervising"), env={"PYTHONPATH": str(REPO)}))
    for svc in out:
        merged = {**os.environ, **env, **svc.env}
        svc.env = {k: v for k, v in merged.items() if v is not None}
    return out


def wait_healthy(services: list[Service], timeout_s: float) -> None:
    """Block until every service is healthy; SystemExit naming the ones that are not (with their log)."""
    t0 = time.monotonic()
    pending = list(services)
    while pending:
        pending = [s for s in pending if not s.healthy()]
        dead = [s for s in pending if pid_of(s.name) is None]
        if dead or time.monotonic() - t0 > timeout_s:
            bad = dead or pending
            raise SystemExit("not healthy: " + ", ".join(
                f"{s.name} ({'exited' if s in dead else 'timed out'}; log {stack_dir() / 'logs' / (s.name + '.log')})"
                for s in bad))
        if pending:
            time.sleep(1)


def start(svc: Service) -> int:
    """Start ``svc`` in its own session (so stopping it stops its children); returns its pid."""
    d = stack_dir()
    (d / "logs").mkdir(parents=True, exist_ok=True)
    (d / "pids").mkdir(parents=True, exist_ok=True)
    if svc.prepare:
        svc.prepare()
    with open(d / "logs" / f"{svc.name}.log", "ab") as log:
        log.write(f"\n{START_MARK}\n".encode())
        log.flush()
        proc = subprocess.Popen(svc.argv, env=svc.env, cwd=d, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    # Atomically: the supervisor restarts a killed service while chaos.kill polls pid_of, and a reader that
    # caught write_text between its truncate and its write saw an empty file (int('') in a CI run).
    with atomic_path(d / "pids" / f"{svc.name}.pid") as tmp:
        tmp.write_text(str(proc.pid))
    return proc.pid


def pid_of(name: str) -> int | None:
    """The pid ``make stack`` recorded for ``name`` if that process still runs."""
    try:  # stop() may remove the file between a check and a read
        pid = int((stack_dir() / "pids" / f"{name}.pid").read_text())
    except FileNotFoundError:
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return None if state == "Z" else pid  # a zombie has exited


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member that is not a zombie. A service restarted by another
    process (chaos.restart in a test) is that process's child: once stopped it stays a zombie until its parent
    reaps it, and kill(0) answers for zombies, so ``stop`` waited out its whole timeout (stack down took 66 s
    after the fault tests, 20 s otherwise)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: kill(0) is the best there is
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after its last ')'
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def stop(services: list[Service], timeout_s: float = 30) -> list[str]:
    """Stop ``services`` and their children (each its process group) together: a stop signal to all, then
    SIGKILL to those still running after ``timeout_s``. Returns the names of those that were running."""
    import signal

    groups = {}
    for svc in services:
        pid = pid_of(svc.name)
        (stack_dir() / "pids" / f"{svc.name}.pid").unlink(missing_ok=True)
        if pid is not None:
            try:
                os.killpg(pid, svc.stop_signal)
                groups[svc.name] = pid
            except ProcessLookupError:
                pass

    def alive(pid: int) -> bool:
        try:  # a child of ours that exited is a zombie until reaped, and a zombie still answers kill(0)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return group_alive(pid)

    deadline = time.monotonic() + timeout_s
    while any(alive(p) for p in groups.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for name, pid in groups.items():
        if alive(pid):
            print(f"  {name} did not stop within {timeout_s:.0f} s: killed", file=sys.stderr, flush=True)
            os.killpg(pid, signal.SIGKILL)
    return list(groups)
