"""Dynamic pricing env: the API checker, the leakage definition, baselines on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest

from models.market.pricing_env import (
    BASELINES,
    PricingEnv,
    PricingEnvConfig,
    agent_share,
    buy_probability,
    oracle_multiplier,
    run_episode,
)


def test_env_passes_the_gymnasium_checker() -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(PricingEnv(PricingEnvConfig(steps=24)), skip_render_check=True)


def test_purchase_model_and_oracle_by_hand() -> None:
    cfg = PricingEnvConfig()
    assert buy_probability(1.0, 2.0, 0.0) == pytest.approx(0.5)
    assert buy_probability(1.2, 5.0, 1.0) == pytest.approx(1 / (1 + np.exp(5 * 0.2 - 1)))
    humans_only, agents_only = oracle_multiplier(cfg, 0.0), oracle_multiplier(cfg, 1.0)
    assert agents_only < oracle_multiplier(cfg, 0.7) < humans_only  # price-sensitive agents pull the price down
    assert agent_share(3, cfg) == pytest.approx(0.95) and agent_share(15, cfg) == pytest.approx(0.45)


def test_leakage_only_below_the_oracle_and_reward_definition() -> None:
    cfg = PricingEnvConfig(steps=48)
    env = PricingEnv(cfg)
    env.reset(seed=0)
    total = 0.0
    for _ in range(48):
        _, r, _, _, _ = env.step(np.array([1.5], dtype=np.float32))  # above every hour's oracle
        total += r
    assert env.totals["leakage"] == 0 and total == pytest.approx(env.totals["revenue"])
    env.reset(seed=0)
    _, r, _, _, info = env.step(np.array([0.7], dtype=np.float32))
    expected = (env.oracle[0] - 0.7) * 100 * env.totals["agent_buys"]
    assert env.totals["leakage"] == pytest.approx(expected) and r == pytest.approx(
        env.totals["revenue"] - 0.5 * expected
    )


def test_baselines_on_common_random_numbers_and_a_counterfactual() -> None:
    cfg = PricingEnvConfig()
    runs = {name: [run_episode(cfg, pol, s) for s in range(8)] for name, pol in BASELINES.items()}
    assert runs["fixed"][0] == run_episode(cfg, BASELINES["fixed"], 0)  # seeded: the same numbers
    assert all(r["mean_multiplier"] == 1.0 for r in runs["fixed"])
    surge = np.mean([r["revenue"] for r in runs["surge"]])
    assert surge < np.mean([r["revenue"] for r in runs["elasticity"]])  # surge pricing loses revenue here
    heavy = [run_episode(PricingEnvConfig(agent_fraction=0.8), BASELINES["fixed"], s) for s in range(8)]
    assert np.mean([r["agent_buys"] for r in heavy]) > np.mean([r["agent_buys"] for r in runs["fixed"]])


def test_agent_fraction_estimated_by_a_classifier() -> None:
    rng = np.random.default_rng(0)
    perfect = (np.zeros(100), np.ones(100))
    noisy = (rng.uniform(0.0, 0.6, 100), rng.uniform(0.4, 1.0, 100))
    env = PricingEnv(PricingEnvConfig(steps=24), agent_scores=perfect)
    env.reset(seed=1)
    obs, *_ = env.step(np.array([1.0], dtype=np.float32))
    assert obs[3] == pytest.approx(env.totals["agents"] / (env.totals["agents"] + env.totals["humans"]), abs=1e-6)
    env = PricingEnv(PricingEnvConfig(steps=24), agent_scores=noisy)
    env.reset(seed=1)
    obs, *_ = env.step(np.array([1.0], dtype=np.float32))
    assert 0.0 < obs[3] < 1.0
