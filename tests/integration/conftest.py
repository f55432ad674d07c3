"""The production-mode stack for the integration tests: started here (or reused when one is up) and stopped
after the last test that needs it. Skipped only off CI, and then with the install command as the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import REPO


def _stack(command: str, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack", command], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def canary_env() -> dict[str, str]:
    """Credentials a user puts in the stack's environment, with values that must never be written anywhere:
    a Kaggle key (ingest steps look for it) and an LLM key (budget insights send it to an endpoint that is
    not there, and log that it failed)."""
    token = uuid.uuid4().hex
    return {"KAGGLE_USERNAME": f"canary-user-{token[:8]}", "KAGGLE_KEY": f"canary-kaggle-{token}",
            "LLM_API_BASE": "http://127.0.0.1:9/v1", "LLM_API_KEY": f"canary-llm-{token}"}


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, Any]]:
    """Settings and client environment of a healthy stack; stopped after the integration tests (if started
    here; `make test` runs them alone, first), so the rest of the suite does not share the machine with it."""
    from stack.__main__ import APT
    from stack.services import pg_bin
    from stack.settings import client_env, load, stack_dir

    if not (pg_bin() and shutil.which("redis-server")) and os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip(f"production mode needs Postgres and Redis: sudo sh -c '{APT}'")
    was_up = (stack_dir() / "secrets.env").exists() and _stack("status", 60).returncode == 0
    canaries = {} if was_up else canary_env()  # a stack started elsewhere has none planted
    if not was_up:  # schedules off: unpausing budget_bandits and market_rl_training must not start extra runs
        res = _stack("up", 900, {**canaries, "PLATFORM_SCHEDULES": "off"})
        if res.returncode != 0:
            _stack("down", 300)  # what did start must not outlive the failure
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    s = load()
    yield {"settings": s, "env": client_env(s), "canaries": canaries}
    if not was_up:
        _stack("down", 300)
