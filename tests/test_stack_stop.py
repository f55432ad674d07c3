"""``stack.services.stop`` ends a service promptly even when the service was started by another process that
has not reaped it (a zombie answers kill(0), which made stop wait out its whole timeout)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from stack.services import group_alive


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
