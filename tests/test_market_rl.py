"""market_rl_training without Airflow (smoke: one iteration per curriculum stage): curriculum, checkpoints,
honest evaluation, registry; the registered policies act, and the nightly picks them up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs.market_rl_training.config import load
from jobs.runner import run_pipeline

pytestmark = pytest.mark.slow
AGENTS = {"aggressive": "PPO", "adaptive": "PPO", "conservative": "DQN", "retargeting": "APPO"}


@pytest.fixture(scope="module")
def trained(module_env: Path) -> dict:
    return run_pipeline("market_rl_training", "smoke", {}, run_id="rl1")


def test_every_family_goes_through_the_curriculum(trained: dict) -> None:
    assert {a: p["algorithm"] for a, p in trained["policies"].items()} == AGENTS
    history = pd.read_csv(Path(trained["bidders_dir"]) / "history.csv")
    hist = history[~history["stage"].str.startswith("league")]
    for family, g in hist.drop_duplicates(["family", "iteration"]).groupby("family"):
        assert list(g["stage"]) == ["basic_bidding", "customer_lifecycle", "full_retargeting"], family
        assert list(g["complexity"]) == [0.3, 0.6, 1.0] and g["promoted"].all()
    assert set(trained["stage_seconds"]) == {f"{f}.{s}" for f in ("PPO", "DQN", "APPO")
                                             for s in ("basic_bidding", "customer_lifecycle", "full_retargeting")}
    ckpts = list((Path(trained["bidders_dir"]) / "checkpoints").glob("*/iter_*"))
    assert len(ckpts) == 3  # the last iteration of each family (smoke: fewer than checkpoint_every)
    # The figure is the batch over the mean wall time of an iteration, as history.csv records them.
    cfg = load("smoke")
    per_iteration = hist.drop_duplicates(["family", "iteration"])["seconds"].mean()
    assert trained["env_steps_per_s"] == pytest.approx(cfg.batch / per_iteration, abs=0.06)
    # Evaluated at the last iteration (smoke: before eval_every): the kept module is the best evaluated one.
    assert all(p["best_iteration"] == 3 and np.isfinite(p["eval_profit"]) for p in trained["policies"].values())
    assert all(p["spend_share"] > 0 for p in trained["policies"].values())  # of its script's spend, as delivered
    # Each evaluation took one dual step on the learner's spend value: up by the shortfall, never below 0.
    spend = pd.read_csv(Path(trained["bidders_dir"]) / "delivery.csv")
    assert sorted(spend["agent"]) == sorted(AGENTS) and (spend["iteration"] == 3).all()
    expected = (spend["value_before"] + cfg.spend_value_step * (cfg.spend_floor - spend["spend_share"])).clip(lower=0)
    np.testing.assert_allclose(spend["value_after"], expected)
    assert (Path(trained["bidders_dir"]) / "delivery.png").is_file()
    league = history[history["stage"] == "league round 1"]  # smoke: one round of one iteration per family
    assert sorted(league["agent"]) == sorted(AGENTS) and (league["iteration"] == 4).all()


def test_league_round_retrains_each_family_against_the_other_learners(trained: dict) -> None:
    """After the curriculum each family re-trains against the other learners' policies (frozen); the table says
    per learner what that was worth on the selection seeds, and a policy replaces the league's only if it ranks
    higher there and no lower against the scripted market (where the verdict judges it)."""
    league = pd.DataFrame(trained["league"])
    floor = load("smoke").spend_floor
    assert sorted(league["agent"]) == sorted(AGENTS) and set(league["round"]) == {1}
    for r in league.itertuples():
        assert r.opponents.split(", ") == sorted(a for a in AGENTS if a != r.agent and AGENTS[a] != r.family)
        assert r.gain == pytest.approx(r.profit_after - r.profit_before, abs=1e-6)
        # Kept: a policy that delivers its share of its script's spend beats one that does not, then profit.
        after, before = (r.spend_share_after >= floor, r.profit_after), (r.spend_share_before >= floor, r.profit_before)
        assert r.gain_lo <= r.gain <= r.gain_hi and r.better_against_league == (after > before)
        assert r.kept == (r.better_against_league and r.no_worse_against_scripts)
        after = (r.spend_share_against_scripts_after >= floor, r.profit_against_scripts_after)
        before = (r.spend_share_against_scripts_before >= floor, r.profit_against_scripts_before)
        assert r.no_worse_against_scripts == (after >= before)
        policy = trained["policies"][r.agent]
        assert (policy.get("league_round") == 1) == r.kept and Path(policy["module"]).is_dir()
    assert (Path(trained["bidders_dir"]) / "league.png").is_file()


def test_evaluation_says_whether_each_learned_bidder_beats_its_script(trained: dict) -> None:
    table = pd.DataFrame(trained["bidder_eval"])
    assert set(table["agent"]) == set(AGENTS)
    # The verdict is what the profit interval says: beats iff above zero at comparable spend, loses iff below.
    from jobs.market_rl_training.train import COMPARABLE_SPEND

    above = np.where((table["spend_share"] >= COMPARABLE_SPEND) | table["spend_share"].isna(), "beats",
                     "out-earns on less spend")
    expected = np.where(table["profit_diff_lo"] > 0, above,
                        np.where(table["profit_diff_hi"] < 0, "loses to", "is not distinguishable from"))
    assert list(table["verdict"]) == list(expected)
    by_seed = pd.read_csv(Path(trained["report_path"]).parents[1] / "evaluation" / "bidders_by_seed.csv")
    assert by_seed.groupby("agent")["seed"].nunique().eq(3).all() and set(by_seed["policy"]) == {"learned", "scripted"}
    # Judged on seeds other than those that picked the best module, so the verdict carries no selection bias.
    cfg = load("smoke")
    assert set(by_seed["seed"]) == set(cfg.eval_seed_list("verdict"))
    assert not set(by_seed["seed"]) & set(cfg.eval_seed_list("select"))
    pricing = pd.DataFrame(trained["pricing_eval"]).set_index("policy")
    assert set(pricing.index) == {"fixed", "surge", "elasticity", "ppo"}
    # The pricer's verdict is the paired objective difference against the elasticity rule, as its interval says.
    pv = trained["pricing_verdict"]
    assert pv["diff_lo"] <= pv["diff"] <= pv["diff_hi"]
    assert pv["diff"] == pytest.approx(pricing.loc["ppo", "reward_mean"] - pricing.loc["elasticity", "reward_mean"])
    assert pv["verdict"] == ("beats" if pv["diff_lo"] > 0 else "loses to" if pv["diff_hi"] < 0
                             else "is not distinguishable from")
    assert f"it {pv['verdict']} the rule" in Path(trained["report_path"]).read_text()
    # The paired differences are learned minus scripted, seed by seed: profit (revenue - spend) and ROAS.
    wide = by_seed.assign(profit=by_seed["revenue"] - by_seed["spend"]).pivot_table(
        index=["agent", "seed"], columns="policy", values=["roas", "profit", "spend"])
    for metric in ("roas", "profit"):
        diff = (wide[metric]["learned"] - wide[metric]["scripted"]).groupby(level="agent").mean()
        assert dict(zip(table["agent"], table[f"{metric}_diff"])) == pytest.approx(diff.to_dict()), metric
    spend = wide["spend"].groupby(level="agent").sum()
    share = spend["learned"] / spend["scripted"].where(spend["scripted"] > 0)  # a script that spent nothing: NaN
    assert dict(zip(table["agent"], table["spend_share"])) == pytest.approx(share.to_dict(), nan_ok=True)
    report = Path(trained["report_path"]).read_text()
    assert all(f"| {r.agent} " in report and r.verdict in report for r in table.itertuples())


def test_registered_policies_act_in_the_envs(trained: dict) -> None:
    import mlflow

    from jobs.market.advertisers import load_advertisers
    from jobs.market.policy_models import ACTION_COLUMNS, OBS_COLUMNS, PRICING_COLUMNS
    from jobs.market.rllib import act, load_module
    from models.market.envs import ACTION_INTERFACE
    from models.market.policies import market_env

    assert set(trained["registered"]) == {*(f"bidder_{a}" for a in AGENTS), "pricing_policy"}
    bidder = mlflow.pyfunc.load_model("models:/bidder_conservative@champion")
    env = market_env({"customers": 300, "arrival_rate": 0.05, "pool_size": 1000, "episode_steps": 24,
                      "learners": ["conservative"], "rivals": ["aggressive"], "advertisers": load_advertisers()})
    obs, _ = env.reset(seed=0)
    out = bidder.predict(pd.DataFrame(obs["conservative"][None], columns=OBS_COLUMNS))
    assert list(out.columns) == ACTION_COLUMNS
    action = out.to_numpy()[0]
    assert action.shape == (6,) and (-2 <= action).all() and (action <= 2).all()
    assert mlflow.MlflowClient().get_model_version_by_alias("bidder_conservative", "champion").tags[
        "action_interface"] == ACTION_INTERFACE
    # The registry's policy is the saved RLModule: the same observation gives the same action.
    module = load_module(trained["policies"]["conservative"]["module"])
    direct = act(module, obs["conservative"][None], module.action_space)[0]
    np.testing.assert_allclose(action, direct)
    _, rewards, _, _, _ = env.step({"conservative": action})
    assert np.isfinite(rewards["conservative"])
    pricer = mlflow.pyfunc.load_model("models:/pricing_policy@champion")
    m = pricer.predict(pd.DataFrame([[1.0, 0.9, 0.5, 0.7, 0.4]], columns=PRICING_COLUMNS))["multiplier"].iloc[0]
    assert 0.7 <= m <= 1.5


def test_registered_policies_list_what_they_need(trained: dict) -> None:
    from tests.model_requirements import uncovered

    for name in ("bidder_conservative", "pricing_policy"):
        assert uncovered(f"models:/{name}@champion") == set(), name


def test_the_nightly_reports_learned_next_to_scripted(trained: dict) -> None:
    state = run_pipeline("market_nightly", "smoke", {"seeds": 2, "steps": 48}, run_id="night_learned")
    assert set(state["champions"]["bidders"]) == set(AGENTS)
    learned = pd.read_csv(Path(state["compare_dir"]) / "learned_bidders.csv")
    assert set(learned["agent"]) == set(AGENTS) and set(learned["policy"]) == {"learned", "scripted"}
    pricing = pd.read_csv(Path(state["compare_dir"]) / "pricing.csv")
    assert any(p.startswith("learned (pricing_policy v1)") for p in pricing["policy"])
    assert "Learned bidders (champions)" in Path(state["report_path"]).read_text()


def test_the_report_page_reads_in_a_browser(trained: dict) -> None:
    from tests.browser import check_report

    seen = check_report(Path(trained["report_html"]), "market_rl_training")
    # Verdicts, learning curves, spend delivered, league.
    assert seen["images"] == 4 and any(f.startswith("Pricing PPO") for f in seen["findings"])
    assert any(f.startswith("League: re-training each family") for f in seen["findings"])
    assert sum(" its script: profit " in f and "paired over 3 seeds" in f for f in seen["findings"]) == len(AGENTS)


def test_report_prints_the_verdicts(trained: dict, capsys: pytest.CaptureFixture) -> None:
    from jobs.report import main

    assert main(["market_rl_training"]) == 0
    out = capsys.readouterr().out
    assert "learned vs scripted" in out and all(a in out for a in AGENTS) and "of the script's spend" in out
    assert "pricing ppo" in out and "pricing fixed" in out


def test_exploitability_sums_what_the_best_responses_found() -> None:
    from jobs.market_rl_training.train import exploitability

    league = pd.DataFrame({"round": [1, 1, 1, 2, 2, 2], "gain": [5.0, -3.0, 2.0, 1.0, -8.0, 0.0]})
    assert exploitability(league).to_dict() == {1: 7.0, 2: 1.0}  # a re-training that earned less found nothing


@pytest.mark.parametrize("overrides", [{"league_rounds": -1}, {"league_iterations": 0}])
def test_league_settings_out_of_range_name_the_field(overrides: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(overrides))):
        load("smoke", overrides)
