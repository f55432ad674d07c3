"""market_nightly without Airflow: missing champions are skipped, the report is written, the gate flags drops."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd
import pytest

from jobs.runner import run_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_night(module_env: Path) -> dict:
    return run_pipeline("market_nightly", "smoke", {}, run_id="night1")


def test_first_night_without_champions(first_night: dict) -> None:
    assert first_night["champions"] == {"ctr": None, "agent_classifier": None, "pricing_policy": None, "bidders": {}}
    assert first_night["learned_path"] is None  # no learned bidder yet: skipped with a log line
    assert first_night["ctr_sources"] == ["noisy_oracle", "none"]  # the champion source is skipped
    assert first_night["previous_night"] is None and first_night["regressions"] == {}
    html = Path(first_night["report_path"]).read_text()
    for part in ("What this run says", "Regression gate", "Pricing policies", "What the CTR model is worth"):
        assert part in html
    assert html.count("data:image/png;base64,") == 6
    assert re.search(r">\s*nan\s*<", html, re.IGNORECASE) is None  # no raw NaN in a cell reaches a reader
    adv = pd.read_csv(Path(first_night["compare_dir"]) / "advertisers.csv")
    assert set(adv["advertiser"]) == {"aggressive", "conservative", "retargeting", "adaptive", "brand_awareness"}
    both = adv[["roas", "roas_lo"]].dropna()  # one seed with spend: a mean but no interval
    assert (both["roas_lo"] <= both["roas"]).all()
    pricing = pd.read_csv(Path(first_night["compare_dir"]) / "pricing.csv")
    assert set(pricing["policy"]) == {"fixed", "surge", "elasticity"}
    assert set(pricing["scenario"]) == {"base", "agents 80%", "demand x1.5"}


def test_a_drop_is_flagged_and_fails_only_when_gated(first_night: dict, caplog: pytest.LogCaptureFixture) -> None:
    import mlflow

    from jobs.market_nightly.compare import RegressionError

    caplog.set_level(logging.INFO)
    small = {"customers": 100}  # a twentieth of the customers: a fraction of the revenue
    with pytest.raises(RegressionError, match=r"previous night's interval \(night1\): market_revenue"):
        run_pipeline("market_nightly", "smoke", {**small, "gate_fail_on": ["market_revenue"]}, run_id="night2")
    # night2 failed, so night3 is compared with night1 again; not gated, the drop is only flagged.
    state = run_pipeline("market_nightly", "smoke", {**small, "gate_fail_on": []}, run_id="night3")
    assert "market_revenue" in state["regressions"] and state["previous_night"] == "night1"
    client = mlflow.MlflowClient()
    gate = client.search_runs([client.get_experiment_by_name("market_nightly").experiment_id],
                              "tags.`airflow.run_id` = 'night3' and tags.`airflow.task_id` = 'regression_gate'")[0]
    assert gate.data.tags["regression.market_revenue"].startswith(
        f"{state['headlines']['market_revenue']['mean']:.4g} <"
    )
    assert "regression gate against night1" in caplog.text


def test_bad_settings_are_named() -> None:
    from jobs.market_nightly.config import load

    with pytest.raises(ValueError, match="pricing_scenarios may only set"):
        load("smoke", {"pricing_scenarios": {"x": {"agent_share": 0.9}}})
    with pytest.raises(ValueError, match="gate_fail_on must be a subset"):
        load("smoke", {"gate_fail_on": ["roas"]})


def test_the_report_page_reads_in_a_browser(first_night: dict) -> None:
    from tests.browser import check_report

    seen = check_report(Path(first_night["report_path"]), "market_nightly")
    assert seen["images"] == 6 and seen["findings"][0].startswith("Market in ")
    assert any("ROAS" in f and "[" in f for f in seen["findings"])  # intervals, formatted


def test_report_prints_the_advertiser_comparison(first_night: dict, capsys: pytest.CaptureFixture) -> None:
    from jobs.report import main

    assert main(["market_nightly"]) == 0
    out = capsys.readouterr().out
    assert "=== market_nightly: advertisers" in out and "adaptive" in out and "CTR model worth to adaptive" in out
    assert "pricing elasticity" in out and "Regression gate:" in out and "Learned bidders: none registered yet" in out


def test_intervals_skip_seeds_where_a_ratio_is_undefined() -> None:
    """A seed where an advertiser spent nothing has no ROAS: it must not turn the whole row into NaN."""
    import numpy as np

    from jobs.market_nightly.compare import summarise
    from models.common.intervals import t_interval

    df = pd.DataFrame({"advertiser": ["a"] * 4 + ["b"] * 2, "roas": [2.0, np.nan, 4.0, 3.0, np.nan, np.nan]})
    out = summarise(df, ["advertiser"], ["roas"]).set_index("advertiser")
    assert out.loc["a", "roas"] == pytest.approx(3.0)
    assert out.loc["a", "roas_lo"] == pytest.approx(t_interval(pd.Series([2.0, 4.0, 3.0]))["lo"])
    assert out.loc["b", ["roas", "roas_lo", "roas_hi"]].isna().all()  # no seed defines it: still NaN, not 0
    assert out.loc["a", "n_seeds"] == 4


def test_ratios_are_summarised_as_ratios_of_sums_that_stay_in_range() -> None:
    """With revenue and spend at hand, ROAS is their ratio of sums: a seed with almost no spend neither drags the
    interval below zero nor hides; a seed with none is counted as undefined."""
    from jobs.market_nightly.compare import summarise

    spend = [1000.0, 900.0, 1100.0, 4.0, 950.0, 0.0]
    roas = [2.0, 2.2, 1.8, 60.0, 2.1, 0.0]
    df = pd.DataFrame({"advertiser": "a", "spend": spend, "revenue": [s * r for s, r in zip(spend, roas)],
                       "impressions": 1000.0, "clicks": [990.0, 999.0, 985.0, 1000.0, 995.0, 0.0]})
    df["roas"] = df["revenue"] / df["spend"]
    out = summarise(df, ["advertiser"], ["roas", "ctr"]).set_index("advertiser").loc["a"]
    assert out["roas"] == pytest.approx(sum(s * r for s, r in zip(spend, roas)) / sum(spend))
    assert 0 < out["roas_lo"] < out["roas"] < out["roas_hi"] and out["roas_undefined"] == 1
    assert 0 < out["ctr_lo"] < out["ctr"] < out["ctr_hi"] <= 1 and out["ctr_undefined"] == 0


def test_a_nan_gated_headline_fails_the_gate() -> None:
    """A NaN compares False with the previous night's bound: without the check it passed silently."""
    from jobs.market_nightly.compare import run_gate
    from jobs.market_nightly.config import HEADLINES, load
    from jobs.paths import RunContext
    from models.common.errors import GateError

    state = {"headlines": {m: {"mean": float("nan") if m == "market_roas" else 1.0} for m in HEADLINES}}
    with pytest.raises(GateError, match="nightly headlines of n1: non-finite market_roas=nan"):
        run_gate(load("smoke"), RunContext("market_nightly", "n1"), state)


def test_a_bidder_champion_of_an_older_action_interface_is_not_played(platform_env: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A bidder registered before today's action interface (per-stage multipliers on its script) means nonsense
    to today's env, and so does a pricer that output a price rather than a residual on the elasticity rule: the
    nightly leaves them out with a warning; one tagged with today's interface is played."""
    import mlflow

    from jobs.market_nightly.champions import run
    from jobs.market_nightly.config import load
    from jobs.paths import RunContext
    from jobs.registry import register
    from jobs.tracking import mlflow_setup
    from models.market.envs import ACTION_INTERFACE
    from tests.test_registry import logged_model

    mlflow_setup("nightly_champions_test")
    register(logged_model(), "bidder_aggressive", 1.0, {}, "r0", metric="profit")  # the old interface: no tag
    register(logged_model(), "bidder_adaptive", 1.0, {"action_interface": ACTION_INTERFACE}, "r1",
             metric=f"profit ({ACTION_INTERFACE})")
    register(logged_model(), "pricing_policy", 1.0, {}, "r2")  # a pricer that output a price, not a residual
    ctx = RunContext.cli("market_nightly", "champions_test")
    with mlflow.start_run(), caplog.at_level(logging.WARNING):
        found = run(load("smoke"), ctx, {})["champions"]
    assert set(found["bidders"]) == {"adaptive"}
    assert "bidder_aggressive v1 acts through an older action interface" in caplog.text
    assert found["pricing_policy"] is None and "pricing_policy v1 acts through an older interface" in caplog.text

    from models.market.pricing_env import PRICING_INTERFACE

    register(logged_model(), "pricing_policy", 0.5, {"action_interface": PRICING_INTERFACE}, "r3",
             metric=f"objective ({PRICING_INTERFACE})")  # another metric: replaces the champion whatever its score
    with mlflow.start_run():
        found = run(load("smoke"), ctx, {})["champions"]
    assert found["pricing_policy"]["version"] == 2


def test_a_gated_headline_without_a_value_fails_the_gate() -> None:
    """A night whose market spent nothing has no ROAS: undefined (None), and a gate on it fails, never passes."""
    from jobs.market_nightly.compare import run_gate
    from jobs.market_nightly.config import load
    from jobs.paths import RunContext
    from models.common.errors import GateError

    heads = {m: {"mean": 1.0, "lo": 0.5, "hi": 1.5} for m in ("market_revenue", "market_ctr", "pricing_best_revenue")}
    state = {"headlines": {**heads, "market_roas": {"mean": None, "lo": None, "hi": None}}}
    with pytest.raises(GateError, match=r"gated \['market_roas'\] undefined"):
        run_gate(load("smoke", {"gate_fail_on": ["market_roas"]}), RunContext.cli("market_nightly", "n0"), state)
