"""budget_bandits end to end without Airflow: plan, simulation, insights; bad facts stop the run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs.budget_bandits.allocate import current_plan_link
from jobs.runner import run_pipeline
from jobs.validation import DataValidationError
from models.common.errors import BadInputError

pytestmark = pytest.mark.slow


def _artifacts(run_id: str, path: str) -> set[str]:
    import mlflow

    return {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, path)}


@pytest.fixture
def published(platform_env: Path) -> dict:
    """A first successful smoke run (synthetic facts with ground truth)."""
    return run_pipeline("budget_bandits", "smoke", {}, run_id="good")


def test_plan_simulation_and_insights(published: dict) -> None:
    plan = pd.read_csv(Path(published["plan_path"]) / "plan.csv")
    assert len(plan) == 12 and abs(plan["share"].sum() - 1) < 1e-9 and plan["share"].min() >= 0.002 - 1e-12
    assert (plan["share"] - plan["prev_share"]).abs().max() <= 0.05 + 1e-9
    assert pd.read_parquet(Path(published["plan_path"]) / "plan.parquet").equals(
        pd.read_parquet(current_plan_link() / "plan.parquet")
    )
    regret = published["regret"]
    assert set(regret) == {"thompson", "greedy", "epsilon_greedy", "uniform"}
    assert regret["thompson"][0] < regret["uniform"][0]
    assert published["simulation_world"] == "ground truth"
    assert _artifacts(published["mlflow_run_id"], "insights") >= {"insights/insights.md", "insights/anomalies.csv",
                                                                  "insights/report.html"}
    text = Path(published["insights_path"]).read_text()
    assert "## Analyst summary" in text and "Recommendation: move budget" in text
    from tests.browser import check_report

    seen = check_report(Path(published["insights_path"]).with_name("report.html"), "budget_bandits")
    assert seen["findings"][0].startswith("Plan for ") and seen["images"] == 3
    truth = pd.read_parquet(published["truth_path"])
    assert truth["segment_key"].nunique() == 12 and truth["day"].nunique() == 21 + 20


def test_report_prints_regret_per_policy(published: dict, capsys: pytest.CaptureFixture) -> None:
    from jobs.report import main

    assert main(["budget_bandits"]) == 0
    out = capsys.readouterr().out
    assert "regret against the oracle (ground truth, 4 seeds" in out
    assert all(p in out for p in ("thompson", "greedy", "epsilon_greedy", "uniform"))


def test_same_seed_same_plan(published: dict) -> None:
    again = run_pipeline("budget_bandits", "smoke", {}, run_id="again")
    a = pd.read_parquet(Path(published["plan_path"]) / "plan.parquet")
    b = pd.read_parquet(Path(again["plan_path"]) / "plan.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert again["regret"] == published["regret"]


def _facts_file(tmp: Path, published: dict, edit) -> Path:
    facts = pd.read_parquet(published["facts_path"])
    path = tmp / "facts.csv"
    edit(facts).to_csv(path, index=False)
    return path


def test_local_facts_run_with_posterior_worlds(published: dict, platform_env: Path) -> None:
    path = _facts_file(platform_env, published, lambda f: f)
    state = run_pipeline("budget_bandits", "smoke", {"source": "local", "local_path": str(path)}, run_id="local")
    assert state["simulation_world"] == "posterior draws" and state["truth_path"] is None
    assert pd.read_csv(Path(state["plan_path"]) / "plan.csv")["segment_key"].nunique() == 12


@pytest.mark.parametrize("case, edit, message", [
    ("negative clicks", lambda f: f.assign(clicks=np.where(f.index == 3, -5, f["clicks"])),
     "expect_column_values_to_be_between column 'clicks'"),
    ("conv > clicks", lambda f: f.assign(conv=np.where(f.index == 4, f["clicks"] + 1, f["conv"])),
     "expect_column_pair_values_a_to_be_greater_than_b"),
    ("duplicate (day, segment)", lambda f: pd.concat([f, f.iloc[[7]]], ignore_index=True),
     "expect_compound_columns_to_be_unique"),
])
def test_bad_facts_fail_before_any_plan(published: dict, platform_env: Path, case: str, edit, message: str) -> None:
    link_before = os.readlink(current_plan_link())
    path = _facts_file(platform_env, published, edit)
    with pytest.raises(DataValidationError) as err:
        run_pipeline("budget_bandits", "smoke", {"source": "local", "local_path": str(path)}, run_id="bad")
    assert message in str(err.value), case
    assert os.readlink(current_plan_link()) == link_before
    run_dir = Path(published["plan_path"]).parent.parent / "bad"
    assert not (run_dir / "plan").exists() and not (run_dir / "simulation").exists()
    import mlflow

    (failed,) = mlflow.search_runs(experiment_names=["budget_bandits"], output_format="list",
                                   filter_string="tags.`airflow.run_id` = 'bad' and tags.`platform.role` = 'dag_run'")
    assert failed.info.status == "FAILED" and failed.data.tags["failure.kind"] == "bad_input"


def test_missing_column_and_bad_day_name_the_file(published: dict, platform_env: Path) -> None:
    path = _facts_file(platform_env, published, lambda f: f.drop(columns="spent"))
    with pytest.raises(BadInputError, match=r"facts file .*facts.csv: missing column\(s\) 'spent'; expected"):
        run_pipeline("budget_bandits", "smoke", {"source": "local", "local_path": str(path)}, run_id="bad-col")
    path = _facts_file(
        platform_env, published, lambda f: f.assign(day=np.where(f.index == 2, "yesterday", f["day"].astype(str)))
    )
    with pytest.raises(BadInputError, match=r"column 'day', row 3 \(line 4\): not a date, found 'yesterday'"):
        run_pipeline("budget_bandits", "smoke", {"source": "local", "local_path": str(path)}, run_id="bad-day")
