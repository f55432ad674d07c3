"""Promotion is a transaction: never a non-finite score, the better of two racing models wins, and a
promotion killed at any point is finished or undone by whoever promotes next (or ``jobs doctor``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.common.errors import GateError, require_finite
from tests.conftest import REPO

# One promotion in its own process: log a model, wait for the parent's "go" (plus a stagger), then promote
# it under ``names`` (joint) with a champion scoring that takes ``delay`` seconds, as re-scoring a real one does.
CHILD = r"""
import json, sys, time
from pathlib import Path
import mlflow
from jobs.registry import Candidate, promote, tagged_score
from jobs.tracking import mlflow_setup

names, score, run_id, delay, stagger, barrier = sys.argv[1].split(","), float(sys.argv[2]), sys.argv[3], \
    float(sys.argv[4]), float(sys.argv[5]), Path(sys.argv[6])
mlflow_setup("registry_test")

class Model(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input

with mlflow.start_run():
    uri = mlflow.pyfunc.log_model(name="m", python_model=Model()).model_uri

def slow_score(champ):
    time.sleep(delay)
    return tagged_score(champ)

(barrier / f"ready-{run_id}-{score}").touch()
while not (barrier / "go").exists():
    time.sleep(0.02)
time.sleep(stagger)
out = promote([Candidate(n, uri, score, {}, slow_score) for n in names], run_id, joint=True)
print("OUT " + json.dumps(out))
"""


def start_child(root: Path, names: list[str], score: float, run_id: str, delay: float = 0.0, stagger: float = 0.0,
                failpoint: str = "") -> subprocess.Popen:
    script = root / "promote_child.py"
    script.write_text(CHILD)
    (root / "barrier").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PLATFORM_FAILPOINT": failpoint}
    return subprocess.Popen([sys.executable, str(script), ",".join(names), str(score), run_id, str(delay),
                             str(stagger), str(root / "barrier")], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_children(root: Path, children: list[subprocess.Popen]) -> list[tuple[int, str]]:
    """Release the children together once all are ready; their exit codes and outputs."""
    deadline = time.monotonic() + 180
    while len(list((root / "barrier").glob("ready-*"))) < len(children):
        assert time.monotonic() < deadline and all(c.poll() is None for c in children), \
            [c.communicate()[1][-2000:] for c in children if c.poll() is not None]
        time.sleep(0.05)
    (root / "barrier" / "go").touch()
    outs = [(c.wait(timeout=180), c.communicate()[0]) for c in children]
    (root / "barrier" / "go").unlink()
    for f in (root / "barrier").glob("ready-*"):
        f.unlink()
    return outs


def logged_model() -> str:
    import mlflow
    import pandas as pd

    class Model(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
            return pd.Series([0.5] * len(model_input))

    with mlflow.start_run():
        return mlflow.pyfunc.log_model(name="m", python_model=Model()).model_uri


def aliases(name: str) -> dict[str, int]:
    import mlflow

    return {a: int(v) for a, v in mlflow.MlflowClient().get_registered_model(name).aliases.items()}


def test_require_finite_names_each_bad_value() -> None:
    require_finite("ok", auc=0.7, champion=None)
    with pytest.raises(GateError, match=r"mmm holdout: non-finite r2=nan, mape=inf; nothing promoted"):
        require_finite("mmm holdout", r2=math.nan, mape=math.inf, wmape=0.1)


def test_a_nan_score_is_refused_and_a_nan_champion_is_replaced(platform_env: Path) -> None:
    import mlflow

    from jobs.registry import Candidate, promote, register
    from jobs.tracking import mlflow_setup

    mlflow_setup("registry_test")
    client = mlflow.MlflowClient()
    with pytest.raises(GateError, match="registering m: non-finite score=nan"):
        register(logged_model(), "m", math.nan, {}, "r0")
    assert client.search_model_versions("name = 'm'") == []  # nothing registered
    assert register(logged_model(), "m", 0.7, {}, "r1")["alias"] == "champion"
    assert register(logged_model(), "m", 0.6, {}, "r2")["alias"] == "challenger"
    # Before this check, ``0.65 >= nan`` was False: a NaN champion kept every later model a challenger.
    out = promote([Candidate("m", logged_model(), 0.65, {}, lambda champ: math.nan)], "r3")["m"]
    assert out["alias"] == "champion" and aliases("m") == {"champion": 3, "challenger": 2}
    assert {mv.tags["promotion"] for mv in client.search_model_versions("name = 'm'")} == {"done"}



def test_a_champion_scored_by_another_metric_is_replaced_not_compared(platform_env: Path) -> None:
    """Bidders were scored by ROAS, now by profit: a profit of -5 must not lose to a ROAS of 2.7, nor
    should a profit of 9,000 beat it for being a bigger number; the next profit model is compared as usual."""
    import mlflow

    from jobs.registry import register
    from jobs.tracking import mlflow_setup

    mlflow_setup("registry_test")
    assert register(logged_model(), "b", 2.7, {}, "r0")["alias"] == "champion"  # the old way: ROAS, unnamed
    out = register(logged_model(), "b", -5.0, {}, "r1", metric="profit")
    assert out["alias"] == "champion" and out["champion_score"] is None
    assert register(logged_model(), "b", -9.0, {}, "r2", metric="profit")["alias"] == "challenger"
    assert register(logged_model(), "b", 3.0, {}, "r3", metric="profit")["alias"] == "champion"
    assert register(logged_model(), "b", 99.0, {}, "r4", metric="roas")["champion_score"] is None
    tags = {int(mv.version): mv.tags.get("score_metric")
            for mv in mlflow.MlflowClient().search_model_versions("name = 'b'")}
    assert tags == {1: None, 2: "profit", 3: "profit", 4: "profit", 5: "roas"}


@pytest.mark.slow
def test_the_better_of_two_racing_models_always_wins(platform_env: Path) -> None:
    """The worse model starts comparing 0.5 s after the better one, while the better one is still scoring
    the champion: without the lock both compare with the old champion and the later writer (the worse) wins."""
    from jobs.registry import register
    from jobs.tracking import mlflow_setup

    mlflow_setup("registry_test")
    register(logged_model(), "ctr", 0.70, {}, "r0")
    better = start_child(platform_env, ["ctr"], 0.7469, "better", delay=1.5)
    worse = start_child(platform_env, ["ctr"], 0.7108, "worse", delay=1.5, stagger=0.5)
    (rc_b, out_b), (rc_w, out_w) = run_children(platform_env, [better, worse])
    assert rc_b == 0 and rc_w == 0
    got = {r["score"]: r for r in (json.loads(o.split("OUT ")[1])["ctr"] for o in (out_b, out_w))}
    assert got[0.7108]["alias"] == "challenger" and got[0.7108]["champion_score"] == pytest.approx(0.7469)
    assert aliases("ctr") == {"champion": got[0.7469]["version"], "challenger": got[0.7108]["version"]}


GROUP = ["agent_classifier", "pricing_multitask", "pricing_rules"]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "winner"), [
    ("registry.registered", "old"),  # versions registered, nothing moved: deleted
    ("registry.alias_set", "old"),  # one alias of three moved: rolled back
    ("registry.committed", "new"),  # every alias moved, not yet marked done: rolled forward
])
def test_a_killed_joint_promotion_is_finished_or_undone(platform_env: Path, point: str, winner: str) -> None:
    import mlflow

    from jobs.registry import recover, registry_lock
    from jobs.tracking import mlflow_setup

    mlflow_setup("registry_test")
    first = start_child(platform_env, GROUP, 0.70, "old")
    assert run_children(platform_env, [first])[0][0] == 0
    old = {n: aliases(n)["champion"] for n in GROUP}
    killed = start_child(platform_env, GROUP, 0.80, "new", failpoint=point)
    assert run_children(platform_env, [killed])[0][0] == -9
    with registry_lock("test"):
        done = recover(mlflow.MlflowClient())
    champions = {n: aliases(n).get("champion") for n in GROUP}
    client = mlflow.MlflowClient()
    assert client.search_model_versions("tags.promotion = 'pending'") == []
    if winner == "old":
        assert champions == old, done
        assert all(len(client.search_model_versions(f"name = '{n}'")) == 1 for n in GROUP)
    else:
        assert all(champions[n] == old[n] + 1 for n in GROUP), done
        assert {mv.tags["airflow.run_id"] for n in GROUP for mv in [client.get_model_version(n, champions[n])]} \
            == {"new"}


@pytest.mark.slow
def test_a_rerun_completes_the_killed_promotion_of_the_same_run(platform_env: Path) -> None:
    import mlflow

    from jobs.tracking import mlflow_setup

    mlflow_setup("registry_test")
    assert run_children(platform_env, [start_child(platform_env, GROUP, 0.70, "old")])[0][0] == 0
    killed = start_child(platform_env, GROUP, 0.80, "new", failpoint="registry.alias_set")
    assert run_children(platform_env, [killed])[0][0] == -9
    assert aliases(GROUP[0])["champion"] != aliases(GROUP[1])["champion"]  # torn: one alias moved
    rc, out = run_children(platform_env, [start_child(platform_env, GROUP, 0.80, "new")])[0]
    assert rc == 0, out
    client = mlflow.MlflowClient()
    for n in GROUP:
        champ = client.get_model_version_by_alias(n, "champion")
        assert champ.tags["airflow.run_id"] == "new" and champ.tags["promotion"] == "done"
        # The killed attempt's version is gone: the old champion and the rerun's.
        assert len(client.search_model_versions(f"name = '{n}'")) == 2
