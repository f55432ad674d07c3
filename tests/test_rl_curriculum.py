"""Curriculum stages, promotion rules and the discrete bid grid for DQN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jobs.market.advertisers import load_advertisers
from models.market.curriculum import Curriculum, Stage
from models.market.customers import STAGES
from models.market.envs import ACTION_GRID, EnvConfig, RetargetingParallelEnv, env_config
from models.market.simulator import MarketConfig, strategies_from_config

ROOT = Path(__file__).resolve().parent.parent
ADVERTISERS = load_advertisers()


def test_stage_environments_grow_with_complexity() -> None:
    base = EnvConfig(market=MarketConfig(customers=10_000), episode_steps=168)
    easy, mid, full = (env_config(c, base) for c in (0.3, 0.6, 1.0))
    assert (easy.market.customers, mid.market.customers, full.market.customers) == (3000, 6000, 10_000)
    assert easy.episode_steps < mid.episode_steps < full.episode_steps == 168
    assert easy.market.lifecycle.organic_visit_rate == 0 and full.market.lifecycle == base.market.lifecycle
    with pytest.raises(ValueError, match="complexity"):
        env_config(0.0, base)


def test_promotion_on_threshold_or_budget() -> None:
    cur = Curriculum((Stage("a", 0.3, 3, reward_threshold=5.0), Stage("b", 1.0, 2)))
    assert not cur.record(1.0) and cur.record(6.0)  # threshold reached on the second iteration
    assert cur.stage.name == "b" and not cur.record(100.0) and cur.record(0.0)  # b has no threshold: its budget
    assert cur.finished and [h["reason"] for h in cur.history if h["promoted"]] == ["threshold", "budget"]


def test_a_discrete_action_indexes_the_action_grid_for_dqn() -> None:
    env = RetargetingParallelEnv(["conservative"], strategies_from_config(ADVERTISERS, ["aggressive"]),
                                 EnvConfig(market=MarketConfig(customers=300, pool_size=1000), episode_steps=24),
                                 discrete=True, scripts={"conservative": strategies_from_config(ADVERTISERS,
                                                                                                ["conservative"])[0]})
    assert env.action_space("conservative").n == len(ACTION_GRID) == 27
    # The first nine rows: one level for every stage, x0.25 to x4 (index 4 the script), as DQN bidders trained
    # before the tilt read their indices.
    np.testing.assert_array_equal(ACTION_GRID[[0, 4, 8], 0], [-2.0, 0.0, 2.0])
    assert (ACTION_GRID[:9] == ACTION_GRID[:9, :1]).all() and not ACTION_GRID[4].any()
    # The tilted rows lean toward the stages where a click converts more: consideration above awareness.
    consideration, awareness = STAGES.index("CONSIDERATION"), STAGES.index("AWARENESS")
    assert (ACTION_GRID[9:, consideration] > ACTION_GRID[9:, awareness]).all()
    assert len({tuple(r) for r in ACTION_GRID}) == len(ACTION_GRID)  # no action twice

    def spend(action: object) -> float:
        env.reset(seed=4)
        for _ in range(24):
            env.step({"conservative": action})
        return float(env.core.market.totals["spend"][0])

    top = len(ACTION_GRID) - 1  # four times the script's bids
    assert spend(np.int64(top)) == spend(ACTION_GRID[top])  # an index acts exactly as its grid row
    assert spend(np.int64(top)) > spend(np.int64(0)) >= 0 and spend(np.int64(top)) >= spend(np.int64(4))


def test_the_config_validates_who_learns_and_hashes_every_knob() -> None:
    from jobs.market_rl_training.config import load
    from jobs.provenance import config_hash

    cfg = load("demo")
    assert [s.iterations for s in cfg.stages()] == [3, 3, 4]
    assert [s.iterations for s in load("smoke").stages()] == [1] * 3
    medium = load("medium")  # this pipeline's own profile: five times demo's training, three league rounds
    assert [s.iterations for s in medium.stages()] == [15, 15, 20] and medium.league_rounds == 3
    # The verdict's seeds are their own count, apart from the selection seeds: the two lists never meet.
    verdict, select = medium.eval_seed_list("verdict"), medium.eval_seed_list("select")
    assert (len(verdict), len(select)) == (medium.verdict_seeds, medium.eval_seeds) == (40, 20)
    assert not set(verdict) & set(select)
    with pytest.raises(ValueError, match=r"verdict_seeds and pricing_eval_seeds must be >= 2.*got 3, 1 and 4"):
        load("smoke", {"verdict_seeds": 1})
    from jobs.avazu_ctr.config import load as load_avazu

    with pytest.raises(ValueError, match=r"profile must be one of \('smoke', 'demo', 'full'\) for avazu_ctr"):
        load_avazu("medium")  # no other pipeline has it
    with pytest.raises(ValueError, match="not scripted advertisers"):
        load("smoke", {"agents": {"tiktok": {"algorithm": "PPO"}}})
    with pytest.raises(ValueError, match="algorithm must be one of"):
        load("smoke", {"agents": {"aggressive": {"algorithm": "A3C"}}})
    with pytest.raises(ValueError, match="hyperparameters must set"):
        load("smoke", {"hyperparameters": {"PPO": {"lr": 1e-3}}})
    appo = {k: v for k, v in cfg.hyperparameters["APPO"].items() if k != "entropy_coeff"}
    with pytest.raises(ValueError, match=r"hyperparameters must set.*'APPO': \['entropy_coeff'\]"):
        load("smoke", {"hyperparameters": {**cfg.hyperparameters, "APPO": appo}})  # no silent library default
    with pytest.raises(ValueError, match=r"spend_floor must be in \[0, 1\]"):
        load("smoke", {"spend_floor": 1.2})
    with pytest.raises(ValueError, match="complexity in"):
        load("smoke", {"curriculum": [{"name": "x", "complexity": 1.5, "iterations": {"smoke": 1}}]})
    # The hash covers the nested knobs: a different learning rate is a different config.
    hyper = {**cfg.hyperparameters, "PPO": {**cfg.hyperparameters["PPO"], "lr": 1e-3}}
    assert config_hash(load("demo", {"hyperparameters": hyper})) != config_hash(cfg)
    assert config_hash(load("demo")) == config_hash(cfg)
    with pytest.raises(TypeError, match="immutable"):
        cfg.hyperparameters["PPO"]["lr"] = 1.0  # type: ignore[index]


def test_a_verdict_reads_as_a_sentence_about_what_it_judges() -> None:
    from jobs.market_rl_training.train import OUT_EARNS, says_of

    assert says_of(OUT_EARNS) == "out-earns its script on less spend"  # not "out-earns on less spend its script"
    assert says_of("beats") == "beats its script"
    assert says_of("is not distinguishable from", "the rule") == "is not distinguishable from the rule"


def test_the_spend_value_rises_while_a_learner_under_delivers_and_a_delivering_policy_ranks_first() -> None:
    """Dual ascent on the delivery constraint (spend >= floor x the script's spend): the multiplier grows by
    step x shortfall, falls back by the surplus, never below 0; a policy that delivers outranks a richer one
    that does not."""
    from jobs.market_rl_training.delivery import Delivery

    d = Delivery(floor=0.8, step=1.0, script_spend={"a": 500.0, "quiet": 0.0}, values={"a": 0.0, "quiet": 0.0})
    assert d.update("a", 300.0) == pytest.approx(0.2)          # 60% of the script's spend: 20 points short
    assert d.update("a", 350.0) == pytest.approx(0.2 + 0.1)    # 70%: still short, the value keeps rising
    assert d.update("a", 500.0) == pytest.approx(0.3 - 0.2)    # 100%: a surplus lowers it
    assert d.update("a", 1000.0) == 0.0                        # never below 0: profit alone again
    assert d.update("quiet", 0.0) == 0.0 and d.share("quiet", 10.0) == 1.0  # a script that spends nothing
    with pytest.raises(ValueError, match="a: the evaluation at iteration 7 spent nan, not a number"):
        d.update("a", float("nan"), 7)
    assert d.values["a"] == 0.0 and len(d.history) == 5  # the bad evaluation changed nothing
    assert d.rank("a", 100.0, 420.0) > d.rank("a", 900.0, 300.0)  # delivers (84%) beats out-earns on 60%
    assert d.rank("a", 200.0, 420.0) > d.rank("a", 100.0, 450.0)  # both deliver: profit decides


def test_a_process_without_a_hash_salt_starts_again_with_a_fixed_one() -> None:
    """RLlib orders a family's learners by string hash: the training entry points fix the salt, so two processes
    hash the learners' names alike (without it they differ from process to process)."""
    import os
    import subprocess
    import sys

    code = ("from jobs.hashseed import run_with_fixed_hash_seed; "
            "run_with_fixed_hash_seed(['-c', 'print(hash(\"aggressive\"), hash(\"adaptive\"))'])")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parent.parent) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.strip()
    assert "again with PYTHONHASHSEED=0" in runs[0].stderr
    salted = subprocess.run([sys.executable, "-c", "print(hash('aggressive'))"], env={**env, "PYTHONHASHSEED": "0"},
                            capture_output=True, text=True, check=True)
    assert runs[0].stdout.split()[0] == salted.stdout.strip()


@pytest.mark.parametrize("overrides", [{"envs_per_runner": 0}, {"dqn_envs_per_runner": 0},
                                       {"dqn_envs_per_runner": 10**6}])
def test_env_copies_out_of_range_name_the_field(overrides: dict) -> None:
    from jobs.market_rl_training.config import load

    key, value = next(iter(overrides.items()))
    with pytest.raises(ValueError, match=rf"{key} must be in \[1, batch\].*\b{value}\b"):
        load("smoke", overrides)
