"""Restart what crashed: the stack's counterpart of ``restart: always`` in docker-compose.yaml (or systemd's
``Restart=always``). Airflow's scheduler, dag-processor and triggerer exit when Postgres goes away for a
moment; a deployment brings them back, and so does this.

A service that exited while its pid file is still there crashed (``make stack-down`` removes the pid file
before it stops anything): it is started again, after 2 s, then with a doubling delay up to 30 s while it
keeps failing (a database still down), and the delay resets once it has stayed up for a minute.
"""

from __future__ import annotations

import logging
import time

from stack.services import Service, define, pid_of, start
from stack.settings import load, stack_dir

log = logging.getLogger("stack.supervisor")
NAME = "supervisor"
FIRST_DELAY_S, MAX_DELAY_S, STABLE_S = 2.0, 30.0, 60.0


def crashed(svc: Service) -> bool:
    """Whether ``svc`` was started by the stack, not stopped by it, and is not running."""
    return (stack_dir() / "pids" / f"{svc.name}.pid").exists() and pid_of(svc.name) is None


def supervise(interval_s: float = 1.0) -> None:
    """Watch every other service forever; restart the crashed ones with back-off."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    services = [svc for svc in define(load()) if svc.name != NAME]
    delay: dict[str, float] = {}
    last_start: dict[str, float] = {}
    due: dict[str, float] = {}
    log.info("supervising %d services", len(services))
    while True:
        now = time.monotonic()
        for svc in services:
            if not crashed(svc):
                continue
            if svc.name not in due:
                stable = now - last_start.get(svc.name, -STABLE_S) >= STABLE_S
                delay[svc.name] = FIRST_DELAY_S if stable else min(2 * delay[svc.name], MAX_DELAY_S)
                due[svc.name] = now + delay[svc.name]
                log.warning("%s exited; restarting it in %.0f s", svc.name, delay[svc.name])
            elif now >= due[svc.name]:
                del due[svc.name]
                last_start[svc.name] = now
                try:
                    log.info("%s restarted (pid %d)", svc.name, start(svc))
                except (SystemExit, Exception) as exc:  # its prepare step needs a database still down
                    log.warning("%s could not start: %s", svc.name, exc)
        time.sleep(interval_s)
