"""``stack.services.stop`` ends a service promptly even when the service was started by another process that
has not reaped it (a zombie answers kill(0), which made stop wait out its whole timeout); a pid file read while
the supervisor restarts its service is never empty."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from stack.services import Service, group_alive, pid_of, start, stop


def test_a_zombie_group_is_not_alive_and_a_live_one_is() -> None:
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)  # its own process group, like a service
    try:
        assert group_alive(child.pid)
        os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while group_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not group_alive(child.pid)  # exited, not yet reaped: a zombie
        os.killpg(child.pid, 0)  # what stop used to ask: the zombie still answers
    finally:
        child.kill()
        child.wait()
    assert not group_alive(child.pid)


def test_pid_of_never_reads_a_half_written_pid_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chaos.kill polls pid_of while the supervisor restarts the service: a CI run once read the file between
    its truncate and its write (int('')). Restart a service many times while another thread reads its pid."""
    monkeypatch.setenv("PLATFORM_STACK_DIR", str(tmp_path))
    svc = Service("sleeper", ["sleep", "30"], "-", lambda: True)
    seen: list[int | None] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(pid_of(svc.name))
            except BaseException as exc:  # what the fault injector met
                errors.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    pids = []
    try:
        for _ in range(40):
            pids.append(start(svc))
            stop([svc], timeout_s=5)
    finally:
        done.set()
        reader.join()
        stop([svc], timeout_s=5)
    assert not errors, errors
    assert set(seen) - {None} <= set(pids) and len(seen) > 40
