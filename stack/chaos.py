"""Faults injected into a running stack the way production fails (a process killed by the OOM killer or a
lost node, a server restarted by a deploy), and where to see a task start: what the integration tests and
``bench/stack_production.py`` use to check that runs recover and nothing is lost."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from stack.services import Service, define, pid_of, start, stop, wait_healthy
from stack.settings import load, stack_dir


def service(name: str) -> Service:
    """The stack's definition of service ``name``."""
    return next(svc for svc in define(load()) if svc.name == name)


def worker_log(n: int) -> str:
    """Celery worker ``n``'s log (kept across its restarts)."""
    path = stack_dir() / "logs" / f"airflow-worker-{n}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def workers() -> list[int]:
    """The Celery worker numbers of this stack."""
    return list(range(1, int(load()["CELERY_WORKERS"]) + 1))


def task_marker(run_id: str, task_id: str) -> str:
    """What a Celery worker logs when it starts the task's first attempt (the one a fault is aimed at)."""
    return f"run_id={run_id}/task_id={task_id}/attempt=1.log"


def worker_running(run_id: str, task_id: str) -> int | None:
    """The Celery worker that received the task's first attempt, or None if none has yet."""
    marker = task_marker(run_id, task_id)
    return next((n for n in workers() if marker in worker_log(n)), None)


def wait_started(api: Any, dag_id: str, run_id: str, task_id: str, timeout_s: float = 900) -> int:
    """Block until a worker has received the first attempt of the task; returns the worker's number.
    RuntimeError if the run ends first, TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (n := worker_running(run_id, task_id)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{task_id} of {run_id} did not start in {timeout_s:.0f} s")
        if api.state(dag_id, run_id) in ("success", "failed"):
            raise RuntimeError(f"{run_id} ended before {task_id} started")
        time.sleep(1)
    return n


def kill(name: str) -> None:
    """SIGKILL service ``name`` and its children (a crash: no clean-up runs); the stack's supervisor starts it
    again, as a deployment's restart policy would."""
    pid = pid_of(name)
    if pid is None:
        raise RuntimeError(f"{name} is not running")
    os.killpg(pid, signal.SIGKILL)
    while pid_of(name) == pid:  # until it is gone or a zombie
        time.sleep(0.1)


def wait_back(name: str, timeout_s: float = 300) -> float:
    """Block until ``name`` runs again and is healthy (after :func:`kill`); returns the seconds waited."""
    t0 = time.monotonic()
    svc = service(name)
    while pid_of(name) is None:
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"{name} was not restarted in {timeout_s:.0f} s")
        time.sleep(0.2)
    wait_healthy([svc], timeout_s)
    return time.monotonic() - t0


def wait_running(api: Any, dag_id: str, run_id: str, task_id: str, timeout_s: float = 60) -> bool:
    """Block until the task's process runs (not just queued on a worker); whether it did within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (state := api.task_state(dag_id, run_id, task_id)) in (None, "scheduled", "queued"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return state == "running"


FAULTS = ("kill spark-worker-1", "kill celery-worker", "restart mlflow", "restart postgres")


def inject(fault: str, api: Any, dag_id: str, run_id: str, task_id: str, delay_s: float = 0,
           timeout_s: float = 900) -> tuple[float, bool]:
    """Once a Celery worker has received the first attempt of ``task_id``, inject ``fault`` (one of
    :data:`FAULTS`) ``delay_s`` into it. A Celery worker kill waits until the task runs (a task lost while
    queued waits out Airflow's queued timeout instead of a heartbeat timeout) and kills the worker running it.
    Returns the seconds until the service was healthy again, and whether the fault hit the running task."""
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
    worker = wait_started(api, dag_id, run_id, task_id, timeout_s)
    if fault == "kill celery-worker":
        running = wait_running(api, dag_id, run_id, task_id)
        kill(f"airflow-worker-{worker}")
        return wait_back(f"airflow-worker-{worker}"), running
    time.sleep(delay_s)
    running = api.task_state(dag_id, run_id, task_id) == "running"
    if fault == "kill spark-worker-1":
        kill("spark-worker-1")
        return wait_back("spark-worker-1"), running
    return restart(fault.split()[-1]), running


def restart(name: str, timeout_s: float = 300) -> float:
    """Stop ``name`` gracefully, start it and wait until healthy (a deploy); returns the seconds it was away."""
    return restart_service(service(name), timeout_s)


def restart_service(svc: Service, timeout_s: float = 300, first_delay_s: float = 1.0) -> float:
    """Stop ``svc`` gracefully and start it again until it is healthy, retrying with a doubling delay (up to
    10 s) while it cannot start or exits at once: a dependency may be restarting at the same moment (a CI run
    restarted MLflow while Postgres shut down; its prepare step failed, nothing was started, and with no pid
    file the supervisor never brought it back). Returns the seconds it was away; TimeoutError naming the last
    failure after ``timeout_s``, with the service stopped (no half-started process left behind)."""
    t0 = time.monotonic()
    stop([svc])
    delay = first_delay_s
    while True:
        try:
            start(svc)
            wait_healthy([svc], max(1.0, timeout_s - (time.monotonic() - t0)))
            return time.monotonic() - t0
        except (SystemExit, Exception) as exc:  # SystemExit: wait_healthy's "exited"; Exception: its prepare step
            stop([svc])  # the pid file too: the supervisor must not start a second copy meanwhile
            if time.monotonic() - t0 + delay > timeout_s:
                raise TimeoutError(f"{svc.name} did not come back healthy in {timeout_s:.0f} s: {exc}") from exc
            time.sleep(delay)
            delay = min(2 * delay, 10.0)
