"""A task killed (SIGKILL) in the middle of a write leaves no half file where a reader looks, and a rerun of the
same DAG run succeeds with the same figures as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

# The child process dies by SIGKILL at the moment ``target`` would be renamed into place: its temporary
# sibling is written, the final name not yet.
CHILD = r"""
import os, signal, sys
from pathlib import Path
import jobs.paths as paths
from jobs.runner import run_pipeline

pipeline, run_id, target = sys.argv[1], sys.argv[2], sys.argv[3]
swap = paths._swap_into_place

def killing_swap(tmp, final):
    if target and Path(final).name == target:
        os.kill(os.getpid(), signal.SIGKILL)
    swap(tmp, final)

paths._swap_into_place = killing_swap
state = run_pipeline(pipeline, "smoke", {}, run_id=run_id)
print("STATE " + __import__("json").dumps(state, default=str))
"""


def run_child(root: Path, pipeline: str, run_id: str, target: str = "") -> subprocess.CompletedProcess:
    # A script file, not ``python -c``: pyspark.sql.connect takes a main module without a file for a doctest
    # run and exits 0 on import.
    script = root / "child.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "KAGGLE"))}
    env.update({"PLATFORM_DATA_DIR": str(root / "data"), "PLATFORM_MLFLOW_DIR": str(root / "mlflow"),
                "KAGGLE_CONFIG_DIR": str(root / "no-kaggle"), "PYTHONPATH": str(REPO)})
    return subprocess.run([sys.executable, str(script), pipeline, run_id, target], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def final_state(res: subprocess.CompletedProcess) -> dict:
    assert res.returncode == 0, res.stderr[-3000:]
    line = next(line for line in res.stdout.splitlines() if line.startswith("STATE "))
    return json.loads(line[len("STATE "):])


@pytest.mark.parametrize(("pipeline", "target", "figures"), [
    ("budget_bandits", "simulation", ("regret",)),
    ("mmm", "posterior.npz", ("holdout", "recovery")),
])
def test_killed_mid_write_then_rerun_gives_the_same_figures(tmp_path: Path, pipeline: str, target: str,
                                                            figures: tuple[str, ...]) -> None:
    killed = run_child(tmp_path / "a", pipeline, "night", target)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    run_dir = tmp_path / "a" / "data" / pipeline / "runs" / "night"
    half = [p for p in run_dir.rglob(f".{target}.tmp-*")]
    assert half, "the kill came while the target was being written"
    assert not list(run_dir.rglob(target)), "a killed write must not appear under its final name"

    rerun = final_state(run_child(tmp_path / "a", pipeline, "night"))
    clean = final_state(run_child(tmp_path / "b", pipeline, "night"))
    for key in figures:
        assert rerun[key] == clean[key] and rerun[key], key
    # The rerun closed the killed attempt's task run; its parent ended with the rerun.
    runs = run_states(tmp_path / "a")
    assert [r for r in runs if r[2] == "RUNNING"] == []
    assert [(r[0], r[2]) for r in runs if r[3]] == [("task", "KILLED")]
    assert [r[2] for r in runs if r[0] == "dag_run"] == ["FINISHED"]


def run_states(root: Path) -> list[tuple[str, str, str, str]]:
    """(role, task, status, closed_by) of every run in the store under ``root``."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    return sorted((r.data.tags.get("platform.role", ""), r.data.tags.get("airflow.task_id", ""), r.info.status,
                   r.data.tags.get("platform.closed_by", "")) for r in client.search_runs(exp_ids))


def test_doctor_closes_dead_runs_and_removes_half_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.doctor import doctor
    from tests.conftest import isolate

    killed = run_child(tmp_path, "budget_bandits", "night", "simulation")
    assert killed.returncode == -signal.SIGKILL
    assert ("task", "simulate", "RUNNING", "") in run_states(tmp_path)
    isolate(tmp_path, monkeypatch)
    dry = doctor(dry_run=True)
    assert len(dry["dead_task_runs"]) == 1 and len(dry["stale_temp_paths"]) == 1
    assert ("task", "simulate", "RUNNING", "") in run_states(tmp_path)  # a dry run changes nothing
    report = doctor()
    assert [r.split()[-1] for r in report["dead_task_runs"]] == ["simulate"]
    assert report["dead_dag_runs"] == ["budget_bandits night"]
    (half,) = report["stale_temp_paths"]
    assert ".simulation.tmp-" in half and not Path(half).exists()
    assert [r for r in run_states(tmp_path) if r[2] == "RUNNING"] == []
    again = doctor()
    assert again["dead_task_runs"] == [] and again["stale_temp_paths"] == [] and again["dead_dag_runs"] == []
    final_state(run_child(tmp_path, "budget_bandits", "night"))  # a rerun after the doctor still completes
    assert [r[2] for r in run_states(tmp_path) if r[0] == "dag_run"] == ["FINISHED"]
