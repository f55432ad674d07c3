"""What each service needs before its first start: a Postgres cluster with the stack's databases, Redis's and
MLflow's config files (holding their passwords, mode 600), Airflow's migrated database and its user's password."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from stack.settings import pg_url, stack_dir


def _private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _run(argv: list[str], what: str, **kw: object) -> None:
    res = subprocess.run(argv, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if res.returncode:
        raise SystemExit(f"{what} failed ({res.returncode}): {res.stderr[-2000:] or res.stdout[-2000:]}")


def postgres(s: dict[str, str], pg: Path) -> None:
    """initdb once (as the postgres user when root), password authentication on loopback only."""
    from stack.services import as_postgres

    base = stack_dir() / "postgres"
    data, run = base / "data", base / "run"
    run.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(run, "postgres", "postgres")
    if (data / "PG_VERSION").exists():
        return
    pwfile = base / "initpw"
    _private(pwfile, s["POSTGRES_PASSWORD"])
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    try:
        _run(as_postgres([str(pg / "initdb"), "-D", str(data), "-U", s["POSTGRES_USER"], "--pwfile", str(pwfile),
                          "--auth-local", "scram-sha-256", "--auth-host", "scram-sha-256", "-E", "UTF8"]), "initdb")
    finally:
        pwfile.unlink(missing_ok=True)


def postgres_databases(s: dict[str, str]) -> None:
    """Create the Airflow, MLflow, MLflow-auth and serving databases if missing (after Postgres is up)."""
    import psycopg2

    conn = psycopg2.connect(pg_url(s, "postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        for db in (s["AIRFLOW_DB"], s["MLFLOW_DB"], s["MLFLOW_AUTH_DB"], s["SERVING_DB"]):
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{db}"')
    conn.close()


def redis(s: dict[str, str]) -> None:
    """A config file (the password must not be on the command line, where ``ps`` shows it)."""
    base = stack_dir() / "redis"
    _private(base / "redis.conf", "\n".join([
        f"bind {s['STACK_HOST']}", f"port {s['REDIS_PORT']}", f"requirepass {s['REDIS_PASSWORD']}",
        f"dir {base}", 'save ""', "appendonly no", "protected-mode yes", "daemonize no", ""]))


def mlflow(s: dict[str, str]) -> None:
    """The basic-auth app's config: users in Postgres, the admin's password from the secrets."""
    base = stack_dir() / "mlflow"
    (base / "artifacts").mkdir(parents=True, exist_ok=True)
    postgres_databases(s)
    _private(base / "basic_auth.ini", "\n".join([
        "[mlflow]", "default_permission = READ", f"database_uri = {pg_url(s, s['MLFLOW_AUTH_DB'])}",
        f"admin_username = {s['MLFLOW_ADMIN_USER']}", f"admin_password = {s['MLFLOW_ADMIN_PASSWORD']}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        # Without a cache every request re-hashes the password (PBKDF2): most of the server's CPU under load.
        "auth_cache_ttl_seconds = 60", ""]))


def airflow(s: dict[str, str], env: dict[str, str]) -> None:
    """``airflow db migrate`` and the admin's password file (ours: Airflow would print a generated one)."""
    from stack.services import VENV_BIN

    home = Path(env["AIRFLOW_HOME"])
    _private(home / "passwords.json", json.dumps({s["AIRFLOW_ADMIN_USER"]: s["AIRFLOW_ADMIN_PASSWORD"]}))
    t0 = time.monotonic()
    _run([str(VENV_BIN / "airflow"), "db", "migrate"], "airflow db migrate", env={**os.environ, **env})
    print(f"  airflow db migrate: {time.monotonic() - t0:.0f} s", flush=True)
