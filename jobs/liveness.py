"""Which process wrote something, and whether it is still alive: how a killed task's leftovers are told apart
from a live task's work (MLflow runs left RUNNING, hidden temporary files of a write cut short)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat``): a reused pid has another."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def process_tags() -> dict[str, str]:
    """Tags naming this process: ``platform.host``, ``platform.pid``, ``platform.pid_start``. Not cached: a
    forked task process (Celery, Airflow's supervisor) must not inherit its parent's answer."""
    pid = os.getpid()
    return {"platform.host": socket.gethostname(), "platform.pid": str(pid),
            "platform.pid_start": _start_ticks(pid) or ""}


def process_alive(tags: dict[str, str]) -> bool | None:
    """Whether the process named by :func:`process_tags` still runs; None when it ran on another host."""
    if tags.get("platform.host") != socket.gethostname() or not tags.get("platform.pid"):
        return None
    start = _start_ticks(int(tags["platform.pid"]))
    return start is not None and start == tags.get("platform.pid_start", start)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host."""
    return _start_ticks(pid) is not None
