"""``python -m stack up|status|down|env|supervise``: production mode on this machine (``make stack``,
``make stack-status``, ``make stack-down``). ``env`` prints the exports a shell needs to use the stack (they
hold its secrets); ``supervise`` is the restarter that ``up`` starts last."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from stack.services import define, pg_bin, pid_of, start, stop, wait_healthy
from stack.settings import load, stack_dir

# Started together, each group once the one before it is healthy.
# Spark Connect after the workers have registered: an application gets its executors from the workers
# registered when it starts, so one started early sits on a single worker.
GROUPS = (("postgres", "redis", "spark-master", "ray-head"),
          ("mlflow", "airflow-api-server", "spark-worker"),
          ("airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker", "spark-connect"),
          ("supervisor",))
APT = "apt-get update && apt-get install -y postgresql redis-server"


def ensure_binaries() -> None:
    """Postgres and Redis from Debian's packages: installed here when root, else the command to run."""
    if pg_bin() and shutil.which("redis-server"):
        return
    if os.geteuid() != 0:
        raise SystemExit(f"production mode needs Postgres and Redis: run `sudo sh -c '{APT}'`, then `make stack`")
    print(f"installing Postgres and Redis: {APT}", flush=True)
    subprocess.run(["sh", "-c", APT + " >/dev/null"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def up() -> int:
    """Start whatever of the stack is not running and healthy, group by group."""
    ensure_binaries()
    first = not (stack_dir() / "secrets.env").exists()
    s = load(create_secrets=True)
    services = define(s)
    t0 = time.monotonic()
    for group in GROUPS:
        members = [svc for svc in services if svc.name.startswith(group)]
        for svc in members:
            if pid_of(svc.name) and svc.healthy():
                continue
            stop([svc])  # a recorded but unhealthy process: replace it
            print(f"  starting {svc.name} ({svc.address})", flush=True)
            start(svc)
        wait_healthy(members, timeout_s=300)
        if group[0] == "postgres":
            from stack.prepare import postgres_databases

            postgres_databases(s)
    print(f"stack healthy in {time.monotonic() - t0:.0f} s; `make stack-status` shows it, `make stack-down` stops it")
    if first:
        # Shown this once; afterwards it is only in .stack/secrets.env (mode 600).
        print(f"Airflow UI {s['STACK_HOST']}:{s['STACK_AIRFLOW_PORT']}: user {s['AIRFLOW_ADMIN_USER']}, password "
              f"{s['AIRFLOW_ADMIN_PASSWORD']}")
    return 0


def status() -> int:
    """Each service with its address, pid and health; non-zero if any is down."""
    services = define(load())
    down = 0
    for svc in services:
        pid = pid_of(svc.name)
        ok = pid is not None and svc.healthy()
        down += not ok
        print(f"{svc.name:24} {'up' if ok else 'DOWN':5} pid {pid or '-':>7}  {svc.address}")
    return 1 if down else 0


def down() -> int:
    """Stop exactly what ``up`` started (its recorded pids), group by group, last started first."""
    if not (stack_dir() / "secrets.env").exists():
        print("no stack here")
        return 0
    services = define(load())
    for group in reversed(GROUPS):
        t0 = time.monotonic()
        stopped = stop([svc for svc in services if svc.name.startswith(group)])
        if stopped:  # the group's time says which service is slow to stop
            print(f"  stopped {', '.join(stopped)} in {time.monotonic() - t0:.1f} s", flush=True)
    return 0


def env() -> int:
    """``export`` lines for a shell (``eval "$(python -m stack env)"``)."""
    import shlex

    from stack.settings import client_env

    for key, value in client_env(load()).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    def supervise() -> int:
        from stack.supervisor import supervise as loop

        loop()
        return 0

    commands = {"up": up, "status": status, "down": down, "env": env, "supervise": supervise}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit(f"usage: python -m stack {'|'.join(commands)}")
    sys.exit(commands[sys.argv[1]]())
