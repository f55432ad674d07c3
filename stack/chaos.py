"""Faults injected into a running stack the way production fails (a process killed by the OOM killer or a
lost node, a server restarted by a deploy), and where to see a task start: what the integration tests and
``bench/stack_production.py`` use to check that runs recover and nothing is lost."""

from __future__ import annotations

import os
import signal
import time

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


def task_marker(run_id: str, task_id: str, attempt: int = 1) -> str:
    """What a Celery worker logs when it starts this attempt of the task."""
    return f"run_id={run_id}/task_id={task_id}/attempt={attempt}.log"


def worker_running(run_id: str, task_id: str, attempt: int = 1) -> int | None:
    """The Celery worker that received this attempt of the task, or None if none has yet."""
    marker = task_marker(run_id, task_id, attempt)
    return next((n for n in workers() if marker in worker_log(n)), None)


def wait_started(run_id: str, task_id: str, timeout_s: float = 900, attempt: int = 1) -> int:
    """Block until a worker has received this attempt of the task; returns the worker's number."""
    deadline = time.monotonic() + timeout_s
    while (n := worker_running(run_id, task_id, attempt)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{task_id} attempt {attempt} of {run_id} did not start in {timeout_s:.0f} s")
        time.sleep(0.5)
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


def restart(name: str, timeout_s: float = 300) -> float:
    """Stop ``name`` gracefully, start it and wait until healthy (a deploy); returns the seconds it was away."""
    t0 = time.monotonic()
    svc = service(name)
    stop([svc])
    start(svc)
    wait_healthy([svc], timeout_s)
    return time.monotonic() - t0
