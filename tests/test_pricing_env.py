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


def test_the_learned_pricer_acts_as_a_residual_on_the_elasticity_rule() -> None:
    """Action 0 is the elasticity rule, step for step (same seed, same rewards up to the learner's reward scale);
    +1 prices RESIDUAL_SCALE above it;
    the batch rule equals the per-state one; the wrapped env passes the checker."""
    from gymnasium.utils.env_checker import check_env

    from models.market.pricing_env import (
        RESIDUAL_SCALE,
        ResidualPricingEnv,
        elasticity_multipliers,
        elasticity_policy,
        residual_multipliers,
    )

    cfg = PricingEnvConfig(steps=48)
    check_env(ResidualPricingEnv(PricingEnv(PricingEnvConfig(steps=24))), skip_render_check=True)
    fractions = np.linspace(0.0, 1.0, 11)
    rows = np.zeros((11, 5), np.float32)
    rows[:, 3] = fractions
    np.testing.assert_array_equal(elasticity_multipliers(fractions, cfg),
                                  [elasticity_policy(r, cfg) for r in rows])
    np.testing.assert_allclose(residual_multipliers(rows, np.ones(11), cfg),
                               np.clip(elasticity_multipliers(fractions, cfg) + RESIDUAL_SCALE, 0.7, 1.5))

    rule, env = PricingEnv(cfg), ResidualPricingEnv(PricingEnv(cfg))
    obs_rule, _ = rule.reset(seed=3)
    env.reset(seed=3)
    for _ in range(48):
        a, b = rule.step(np.array([elasticity_policy(obs_rule, cfg)], np.float32)), env.step(np.zeros(1, np.float32))
        np.testing.assert_array_equal(a[0], b[0])
        obs_rule = a[0]
        assert a[4] == b[4]  # the same multiplier and expected reward
        assert b[1] == pytest.approx(a[4]["expected_reward"] / ResidualPricingEnv.reward_scale(cfg))
    env.reset(seed=3)
    first = env.step(np.ones(1, np.float32))[4]["multiplier"]
    assert first == pytest.approx(elasticity_policy(env.reset(seed=3)[0], cfg) + RESIDUAL_SCALE)


def test_the_expected_reward_is_the_mean_of_the_realised_one() -> None:
    """The learner's signal (the hour's reward before the dice) is unbiased for what the evaluation scores."""
    cfg = PricingEnvConfig(steps=2)
    env = PricingEnv(cfg)
    for m in (0.85, 1.0, 1.2):  # below the oracle (leakage), near it, above it
        realised, expected = [], None
        for seed in range(3000):
            env.reset(seed=seed)
            _, r, _, _, info = env.step(np.array([m], np.float32))
            realised.append(r)
            expected = info["expected_reward"]
        assert np.mean(realised) == pytest.approx(expected, rel=0.03), m
