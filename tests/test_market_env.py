"""The market's RL interfaces pass Gymnasium's and PettingZoo's API checkers and are reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.market.advertisers import load_advertisers
from models.market.envs import EnvConfig, RetargetingParallelEnv
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
            obs, r, term, trunc, _ = env.step({"learner": np.array([5.0, 2.0, 8.0], dtype=np.float32)})
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
            _, r, _, _, _ = env.step({"learner": np.array([8.0, 2.0, 10.0], dtype=np.float32)})
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


def test_frozen_opponents_bid_from_their_own_observations_and_are_not_agents() -> None:
    """League training: a frozen learned bidder takes part through the action interface, sees its own
    observation each hour, is not an agent of the env, replaces the scripted rival of its name, and cannot be
    one of the env's learners."""
    seen: list[np.ndarray] = []

    def opponent(obs: np.ndarray) -> np.ndarray:
        seen.append(obs.copy())
        return np.tile(np.array([8.0, 0.0, 10.0], dtype=np.float32), (len(obs), 1))  # bid high on AWARENESS

    env = RetargetingParallelEnv(["learner"], strategies_from_config(ADVERTISERS, ["conservative"]), CFG,
                                 opponents={"rival_policy": opponent})
    obs, _ = env.reset(seed=5)
    assert list(obs) == ["learner"] and env.possible_agents == ["learner"]
    for _ in range(30):
        env.step({"learner": np.array([1.0, 0.0, 5.0], dtype=np.float32)})
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
    env.step({"learner": np.array([1.0, 0.0, 5.0], dtype=np.float32)})
    assert len(seen) == 31  # one action per hour, now in the conservative slot
    env.set_opponents({})
    env.reset(seed=5)
    assert [s.name for s in env.core.market.strategies] == ["learner", "conservative"]
