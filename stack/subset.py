"""Part of the stack on its own: the services named, started as ``make stack`` starts them (same definitions,
prepare steps and health checks), for what needs only those, such as the serving tests and benchmark
(Postgres and Redis). Set ``PLATFORM_STACK_DIR`` and the ports in the environment to keep it apart from a
full stack."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack.services import Service, define, start, stop, wait_healthy
from stack.settings import client_env, load


def free_port() -> int:
    """A TCP port nothing listens on now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(names: tuple[str, ...] = ("postgres", "redis")) -> Iterator[dict[str, str]]:
    """Start the ``names`` services in a fresh state folder on free ports; yields the client environment
    (``SERVING_REDIS_URL``, ``SERVING_DATABASE_URL``, ...) and stops them on exit."""
    from stack.__main__ import ensure_binaries
    from stack.prepare import postgres_databases

    ensure_binaries()
    root = Path(tempfile.mkdtemp(prefix="platform-stack-"))
    root.chmod(0o755)  # Postgres runs as its own user when we are root: it must reach its folder
    saved = {k: os.environ.get(k) for k in ("PLATFORM_STACK_DIR", "POSTGRES_PORT", "REDIS_PORT")}
    os.environ.update({"PLATFORM_STACK_DIR": str(root), "POSTGRES_PORT": str(free_port()),
                       "REDIS_PORT": str(free_port())})
    services: list[Service] = []
    try:
        s = load(create_secrets=True)
        services = [svc for svc in define(s) if svc.name in names]
        for svc in services:
            start(svc)
        wait_healthy(services, timeout_s=120)
        if "postgres" in names:
            postgres_databases(s)
        yield {**client_env(s), "PLATFORM_STACK_DIR": str(root), "POSTGRES_PORT": s["POSTGRES_PORT"],
               "REDIS_PORT": s["REDIS_PORT"]}
    finally:
        stop(services)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        import shutil

        shutil.rmtree(root, ignore_errors=True)
