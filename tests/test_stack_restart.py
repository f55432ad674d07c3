"""A deploy's restart of one service (``stack.chaos.restart_service``) while a service it depends on is itself
restarting: its prepare step fails, or it starts and exits at once; the restart retries until it is healthy,
leaves exactly one copy running, and gives up with an error naming the service (and nothing left running)
when the dependency never comes back. A CI run once restarted MLflow while Postgres shut down: its prepare step
failed, nothing was started, and every later run met a refused connection."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from stack.chaos import restart_service
from stack.services import Service, pid_of, stop, tcp_open

# Exits at once unless the dependency accepts a connection (MLflow without its database), else serves.
SERVE = """
import socket, sys, time
dep, own = int(sys.argv[1]), int(sys.argv[2])
try:
    socket.create_connection(("127.0.0.1", dep), timeout=1).close()
except OSError:
    sys.exit(1)
srv = socket.create_server(("127.0.0.1", own))
while True:
    srv.accept()[0].close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dependency(port: int, after_s: float, stop_event: threading.Event) -> threading.Thread:
    """A dependency that starts listening on ``port`` after ``after_s`` (a database coming back)."""
    def serve() -> None:
        time.sleep(after_s)
        with socket.create_server(("127.0.0.1", port)) as srv:
            srv.settimeout(0.1)
            while not stop_event.is_set():
                try:
                    srv.accept()[0].close()
                except TimeoutError:
                    pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def service(dep: int, own: int, prepare_fails: list[int]) -> Service:
    def prepare() -> None:
        if prepare_fails:  # the first attempts find the dependency shutting down
            prepare_fails.pop()
            raise ConnectionError("the database system is shutting down")
    return Service("dependent", [sys.executable, "-c", SERVE, str(dep), str(own)], f"127.0.0.1:{own}",
                   lambda: tcp_open("127.0.0.1", own), prepare=prepare)


def running_copies(own: int) -> int:
    """Processes of this test's service (by its port argument) that are alive."""
    count = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        count += args[-2:-1] == [str(own).encode()] and b"-c" in args
    return count


def test_a_restart_during_its_dependencys_restart_comes_back_once(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_STACK_DIR", str(tmp_path))
    dep, own = free_port(), free_port()
    done = threading.Event()
    svc = service(dep, own, prepare_fails=[1, 1])
    dependency(dep, after_s=4.0, stop_event=done)  # prepare fails twice, then the process exits until 4 s
    try:
        away = restart_service(svc, timeout_s=60, first_delay_s=0.5)
        assert away >= 4.0  # it could not have been healthy before its dependency
        assert tcp_open("127.0.0.1", own) and pid_of(svc.name) is not None
        assert running_copies(own) == 1
    finally:
        stop([svc], timeout_s=5)
        done.set()


def test_a_dependency_that_never_comes_back_is_named_and_nothing_is_left_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_STACK_DIR", str(tmp_path))
    dep, own = free_port(), free_port()
    svc = service(dep, own, prepare_fails=[1])
    with pytest.raises(TimeoutError, match="dependent did not come back healthy in 3 s"):
        restart_service(svc, timeout_s=3, first_delay_s=0.5)
    assert pid_of(svc.name) is None and not (tmp_path / "pids" / "dependent.pid").exists()
    assert running_copies(own) == 0
