"""The market's RL interfaces pass Gymnasium's and PettingZoo's API checkers and are reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.market.advertisers import load_advertisers
from models.market.customers import STAGES
from models.market.envs import N_STAGES, EnvConfig, RetargetingParallelEnv
from models.market.simulator import MarketConfig, strategies_from_config

ADVERTISERS = load_advertisers()
CFG = EnvConfig(market=MarketConfig(customers=500, arrival_rate=0.05, pool_size=2000), episode_steps=30)


def one_learner(rivals: list[str], cfg: EnvConfig = CFG) -> RetargetingParallelEnv:
    return RetargetingParallelEnv(["learner"], strategies_from_config(ADVERTISERS, rivals), cfg)


def test_a_seeded_episode_repeats_exactly() -> None:
    env = one_learner(["aggressive", "conservative"])

    def episode(seed: int) -> tuple[list[float], np.ndarray]:
        obs, _ = env.reset(seed=seed)
        rewards = []
        for _ in range(30):
            obs, r, term, trunc, _ = env.step({"learner": np.ones(N_STAGES, dtype=np.float32)})
            rewards.append(r["learner"])
            assert env.observation_space("learner").contains(obs["learner"])
        assert trunc["learner"] and not term["learner"]
        return rewards, obs["learner"]

    a, b, c = episode(3), episode(3), episode(4)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert a[0] != c[0]  # another seed is another market
    assert any(r != 0 for r in a[0])  # the learner wins auctions and gets paid or pays


def test_unseeded_resets_draw_new_markets_and_a_seed_reproduces_the_sequence() -> None:
    """RLlib auto-resets finished sub-environments with a bare ``reset()``: each must be a new market (it used
    to replay the seed-0 one), and a seeded reset must replay the markets that follow it too."""
    env = one_learner(["aggressive"])

    def market() -> tuple[np.ndarray, np.ndarray]:
        m = env.core.market
        return m.pool_p.copy(), m.affinity.copy()

    def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
        return all(np.array_equal(x, y) for x, y in zip(a, b))

    env.reset(seed=11)
    seeded = market()
    env.reset()
    first = market()
    env.reset()
    second = market()
    assert not same(first, seeded) and not same(second, first)
    env.reset(seed=11)
    assert same(market(), seeded)
    env.reset()
    assert same(market(), first)  # the unseeded sequence after a seed is reproducible too
    fresh = one_learner(["aggressive"])
    fresh.reset()
    other = one_learner(["aggressive"])
    other.reset()
    assert not same((fresh.core.market.pool_p, fresh.core.market.affinity),
                    (other.core.market.pool_p, other.core.market.affinity))  # never seeded: fresh entropy


def test_pettingzoo_parallel_env_passes_the_api_test() -> None:
    from pettingzoo.test import parallel_api_test

    env = RetargetingParallelEnv(
        ["ppo_aggressive", "dqn_conservative"], strategies_from_config(ADVERTISERS, ["retargeting"]), CFG
    )
    parallel_api_test(env, num_cycles=40)
    obs, _ = env.reset(seed=1)
    assert set(obs) == {"ppo_aggressive", "dqn_conservative"} and all(o.shape == (20,) for o in obs.values())
    actions = {a: env.action_space(a).sample() for a in env.agents}
    _, rewards, _, trunc, _ = env.step(actions)
    assert set(rewards) == set(actions) and not any(trunc.values())


def test_reward_uses_expected_or_realised_revenue_as_configured() -> None:
    from dataclasses import replace

    def first_profitable_step(expected: bool) -> tuple[float, dict]:
        env = one_learner(["conservative"], replace(CFG, expected_revenue=expected))
        env.reset(seed=5)
        for _ in range(30):
            _, r, _, _, _ = env.step({"learner": np.full(N_STAGES, 2.0, dtype=np.float32)})
            row = env.core.market.history[-1]
            if row["wins"][0] > 0:
                return r["learner"], row
        raise AssertionError("the learner never won")

    for expected in (True, False):
        r, row = first_profitable_step(expected)
        revenue = row["expected_revenue" if expected else "revenue"][0]
        spend, conv = row["spend"][0], row["conversions"][0]
        cac = spend / conv if conv > 0 else spend
        assert r == pytest.approx((revenue - spend) / CFG.reward_scale + CFG.conversion_weight * conv
                                  - CFG.cac_weight * cac / 100)
    assert row["expected_revenue"][0] > 0  # a win is worth something before the dice


def test_a_spend_value_adds_its_share_of_the_spend_to_that_learners_reward_only() -> None:
    """The delivery constraint's Lagrange multiplier: value x spend / reward_scale on the learner it is set for."""
    def rewards(values: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        env = RetargetingParallelEnv(["a", "b"], strategies_from_config(ADVERTISERS, ["conservative"]), CFG)
        env.reset(seed=5)
        env.set_spend_values(values)
        r, spend = [], []
        for _ in range(10):
            _, rew, _, _, _ = env.step({n: np.full(N_STAGES, 1.0, dtype=np.float32) for n in ("a", "b")})
            r.append([rew["a"], rew["b"]])
            spend.append(env.core.market.history[-1]["spend"][:2])
        return np.array(r), np.array(spend, dtype=float)

    plain, spend = rewards({})
    valued, same_spend = rewards({"a": 0.5})
    assert spend[:, 0].sum() > 0 and np.array_equal(spend, same_spend)  # the value changes rewards, not the market
    np.testing.assert_allclose(valued[:, 0] - plain[:, 0], 0.5 * spend[:, 0] / CFG.reward_scale)
    np.testing.assert_array_equal(valued[:, 1], plain[:, 1])
    env = one_learner(["conservative"])
    with pytest.raises(ValueError, match=r"spend values for \['b'\], which are not learners"):
        env.set_spend_values({"b": 1.0})


def test_frozen_opponents_bid_from_their_own_observations_and_are_not_agents() -> None:
    """League training: a frozen learned bidder takes part through the action interface, sees its own
    observation each hour, is not an agent of the env, replaces the scripted rival of its name, and cannot be
    one of the env's learners."""
    seen: list[np.ndarray] = []

    def opponent(obs: np.ndarray) -> np.ndarray:
        seen.append(obs.copy())
        return np.full((len(obs), N_STAGES), 2.0, dtype=np.float32)  # four times its base bids

    env = RetargetingParallelEnv(["learner"], strategies_from_config(ADVERTISERS, ["conservative"]), CFG,
                                 opponents={"rival_policy": opponent})
    obs, _ = env.reset(seed=5)
    assert list(obs) == ["learner"] and env.possible_agents == ["learner"]
    for _ in range(30):
        env.step({"learner": np.zeros(N_STAGES, dtype=np.float32)})
    m = env.core.market
    names = [s.name for s in m.strategies]
    assert names == ["learner", "rival_policy", "conservative"]
    assert m.totals["bids"][1] > 0 and m.totals["wins"][1] > 0  # the opponent bids (and wins: it bids high)
    assert len(seen) == 30 and all(o.shape == (1, 20) for o in seen)
    assert not np.array_equal(seen[0], seen[-1])  # its observation follows the market
    with pytest.raises(ValueError, match="learner"):
        env.set_opponents({"learner": opponent})
    env.set_opponents({"conservative": opponent})
    env.reset(seed=5)
    assert [s.name for s in env.core.market.strategies] == ["learner", "conservative"]  # learned, not scripted
    env.step({"learner": np.zeros(N_STAGES, dtype=np.float32)})
    assert len(seen) == 31  # one action per hour, now in the conservative slot
    env.set_opponents({})
    env.reset(seed=5)
    assert [s.name for s in env.core.market.strategies] == ["learner", "conservative"]


def test_a_zero_action_is_the_script_and_the_action_scales_its_bids() -> None:
    """A learner bids through the script of its name: action 0 reproduces the scripted market bit for bit
    (same customers, auctions and dice); +1 doubles every bid the script places and places no other."""
    from models.market.policies import market_env
    from models.market.simulator import simulate, summary

    env_cfg = {"customers": 500, "arrival_rate": 0.05, "pool_size": 2000, "advertisers": ADVERTISERS,
               "learners": ["retargeting"], "rivals": ["aggressive", "conservative"], "episode_steps": 40}
    env = market_env(env_cfg)
    env.reset(seed=9)
    for _ in range(40):
        env.step({"retargeting": np.zeros(N_STAGES, dtype=np.float32)})
    scripted = simulate(MarketConfig(customers=500, arrival_rate=0.05, pool_size=2000, seed=9),
                        strategies_from_config(ADVERTISERS, ["retargeting", "aggressive", "conservative"]), 40)
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(summary(env.core.market), summary(scripted))
    assert summary(scripted)["spend"].iloc[0] > 0

    env.reset(seed=9)
    env.step({"retargeting": np.ones(N_STAGES, dtype=np.float32)})
    doubled = env.core.market.last_auctions["bids"][:, 0].copy()
    env.reset(seed=9)
    env.step({"retargeting": np.zeros(N_STAGES, dtype=np.float32)})
    base = env.core.market.last_auctions["bids"][:, 0]
    on = base > 0
    assert on.any() and not on.all()  # the script passes on customers outside its stages
    assert (doubled[~on] == 0).all()  # and so does the learner: it scales the script's bids, adds none
    assert np.abs(doubled[on] - 2 * base[on]).max() <= 1  # in cents, each rounded once

    # One stage's multiplier moves only the bids on customers in that stage (a learner bidding on every stage).
    consideration = STAGES.index("CONSIDERATION")
    env = market_env({**env_cfg, "learners": ["aggressive"], "rivals": ["retargeting", "conservative"]})
    bids = {}
    for name, action in (("base", np.zeros(N_STAGES, dtype=np.float32)),
                         ("one_stage", np.eye(N_STAGES, dtype=np.float32)[consideration])):
        env.reset(seed=9)
        stage = env.core.market.customers.stage.copy()  # as the auction saw it (the step moves customers on)
        env.step({"aggressive": action})
        bids[name] = env.core.market.last_auctions["bids"][:, 0].copy()
    in_stage = stage[env.core.market.last_opportunities] == consideration
    base, on = bids["base"], bids["base"] > 0
    assert (on & in_stage).any() and (on & ~in_stage).any()
    assert np.abs(bids["one_stage"][on & in_stage] - 2 * base[on & in_stage]).max() <= 1
    np.testing.assert_array_equal(bids["one_stage"][~in_stage], base[~in_stage])
    with pytest.raises(ValueError, match="one log2 multiplier per lifecycle stage"):
        env.step({"aggressive": np.zeros(1, dtype=np.float32)})


def test_the_warm_share_in_the_observation_is_the_populations_every_hour() -> None:
    """Observation float 13, the share of customers in consideration or churn risk, comes from the counts the
    lifecycle keeps (no sweep of the population per hour): it must equal the population's own share every hour,
    through a week of moves (short lifecycle clocks and organic visits, so customers move both ways)."""
    from dataclasses import replace

    from models.market.customers import CHURN_RISK, CONSIDERATION

    market = replace(CFG.market, lifecycle=replace(CFG.market.lifecycle, cool_after=6, churn_after=12, lost_after=24,
                                                   check_every=1, organic_visit_rate=0.01))
    env = one_learner(["aggressive", "conservative"], replace(CFG, market=market, episode_steps=168))
    env.reset(seed=7)
    shares = []
    for _ in range(168):
        obs, _, _, _, _ = env.step({"learner": np.zeros(N_STAGES, dtype=np.float32)})
        stage = env.core.market.customers.stage
        want = np.float32(((stage == CONSIDERATION) | (stage == CHURN_RISK)).mean())
        assert obs["learner"][13] == want
        shares.append(want)
    assert len(set(shares)) > 5  # the share moved: the check saw the counts change
