"""The tracking store: a dead server fails a run fast with a message naming it, and a fresh SQLite store is
created once even when several tasks start on it at the same moment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture
def silent_port() -> Iterator[tuple[int, socket.socket]]:
    """A loopback port whose listener accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1], sock
    sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_port_fails_the_run_at_once_naming_the_uri(platform_env: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.runner import run_pipeline
    from jobs.tracking import TrackingUnavailableError

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    t0 = time.monotonic()
    with pytest.raises(TrackingUnavailableError, match=f"the MLflow tracking server at {uri} does not answer"):
        run_pipeline("budget_bandits", "smoke")
    assert time.monotonic() - t0 < 10
    assert not (platform_env / "data" / "budget_bandits").exists()  # failed before any step wrote anything


def test_a_server_that_never_answers_fails_within_the_timeout(platform_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                             silent_port: tuple[int, socket.socket]) -> None:
    from jobs.tracking import TrackingUnavailableError, mlflow_setup

    uri = f"http://127.0.0.1:{silent_port[0]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    t0 = time.monotonic()
    with pytest.raises(TrackingUnavailableError, match="ReadTimeout"):
        mlflow_setup("never")
    assert 1.5 < time.monotonic() - t0 < 6


CHILD = r"""
import sys, time
from pathlib import Path
from jobs.tracking import mlflow_setup
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.01)
print(mlflow_setup("race"))
"""


def test_tasks_starting_together_on_a_fresh_store_all_succeed(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}, "PYTHONPATH": str(REPO),
           "PLATFORM_MLFLOW_DIR": str(tmp_path / "mlflow"), "PLATFORM_DATA_DIR": str(tmp_path / "data")}
    kids = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "go")], env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    time.sleep(4)  # let every child import MLflow first, so they reach the store together
    (tmp_path / "go").touch()
    outs = [k.communicate(timeout=120) for k in kids]
    assert [k.returncode for k in kids] == [0] * 4, [err[-1500:] for _, err in outs]
    assert len({out.split()[-1] for out, _ in outs}) == 1  # one experiment, the same id for all


def test_after_the_store_answers_tasks_ride_out_a_restart_unless_the_user_chose(platform_env: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail fast while checking the store (above); once it answered, MLflow's own retries cover a server
    restart (about two minutes), except where the user set them."""
    from jobs.tracking import PATIENT_RETRIES, mlflow_setup

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # so that monkeypatch restores it afterwards
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.5")
    mlflow_setup("patience")
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == PATIENT_RETRIES["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "0.5"
    mlflow_setup("patience")  # again in the same process: unchanged
    env = os.environ
    assert (env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"], env["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"]) == ("6", "0.5")


def test_a_new_experiment_is_the_active_one_even_after_another_store(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that used one store and then another (a test worker, a notebook) must start its next run in the
    experiment it just set up: creating the experiment used to leave the old store's experiment id active, and
    ``start_run`` then failed ("No Experiment with id=4") or wrote into whatever had that id."""
    import mlflow

    from jobs.tracking import mlflow_setup
    from tests.conftest import isolate

    isolate(tmp_path / "a", monkeypatch)
    for name in ("one", "two", "three", "four"):
        mlflow_setup(name)
    mlflow_setup("four")  # exists: made active; id 4 in store a
    isolate(tmp_path / "b", monkeypatch)
    new = mlflow_setup("fresh")  # created in store b, where there is no id 4
    with mlflow.start_run() as run:
        assert run.info.experiment_id == new
