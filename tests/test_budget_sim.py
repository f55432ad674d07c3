"""Segment posteriors, the simulated market and the policies' regret."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.bandits.simulation import PolicySettings, SegmentPosterior, simulate, summarise
from models.bandits.world import legacy_history, make_world


def _facts() -> pd.DataFrame:
    return pd.DataFrame({
        "day": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02"]).date,
        "segment_key": ["a", "b", "a", "b"], "clicks": [100, 50, 200, 40], "conv": [10, 1, 30, 2],
        "spent": [80.0, 60.0, 150.0, 50.0]})


def test_posterior_from_facts_discounts_older_days() -> None:
    post = SegmentPosterior.from_facts(_facts(), prior_alpha=1.0, prior_beta=9.0, discount=0.5)
    assert list(post.keys) == ["a", "b"]
    np.testing.assert_allclose(post.alpha, [1 + 30 + 0.5 * 10, 1 + 2 + 0.5 * 1])
    np.testing.assert_allclose(post.beta, [9 + 170 + 0.5 * 90, 9 + 38 + 0.5 * 49])
    np.testing.assert_allclose(post.spent, [150 + 40, 50 + 30])


def test_posterior_update_ages_then_adds() -> None:
    post = SegmentPosterior.from_facts(_facts(), discount=0.9)
    a0, b0 = post.alpha.copy(), post.beta.copy()
    post.update(np.array([10, 0]), np.array([4, 0]), np.array([8.0, 0.0]))
    np.testing.assert_allclose(post.alpha - post.prior_alpha, 0.9 * (a0 - post.prior_alpha) + [4, 0])
    np.testing.assert_allclose(post.beta - post.prior_beta, 0.9 * (b0 - post.prior_beta) + [6, 0])


def test_posterior_concentrates_on_the_true_rate() -> None:
    world = make_world(5, 60, seed=2, cvr_drift=0.0, cpc_drift=0.0)
    facts = legacy_history(world, 60, budget=50_000.0, seed=2)
    post = SegmentPosterior.from_facts(facts, keys=world.keys)
    lo, hi = post.cvr_interval(0.99)
    assert np.all((lo <= world.cvr[0]) & (world.cvr[0] <= hi))
    np.testing.assert_allclose(post.clicks_per_unit(), 1 / world.cpc[0], rtol=0.05)


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    n, hist, hor = 15, 14, 25
    world = make_world(n, hist + hor, seed=5, cvr_spread=0.3, cpc_spread=0.15, cvr_drift=0.05)
    facts = legacy_history(world, hist, 1500.0, seed=5)
    res = simulate(lambda s: world, hist, hor, 1500.0, facts, list(range(6)), PolicySettings(n_draws=500, cap=0.08),
                   1.0, 30.0, 0.97)
    return res


def test_thompson_beats_uniform_and_every_plan_meets_pacing(sim) -> None:
    table = summarise(sim.daily).set_index("policy")
    assert set(table.index) == {"thompson", "greedy", "epsilon_greedy", "uniform"}
    assert (table["regret"] > 0).all()
    assert table.loc["thompson", "regret_hi"] < table.loc["uniform", "regret_lo"]
    plans = sim.plans.sort_values(["day", "segment_key"])
    totals = plans.groupby("day")["share"].sum()
    np.testing.assert_allclose(totals, 1.0, atol=1e-9)
    assert plans["share"].min() >= PolicySettings().floor - 1e-12
    step = plans.pivot(index="day", columns="segment_key", values="share").diff().abs().max().max()
    assert step <= 0.08 + 1e-9


def test_simulation_is_deterministic(sim) -> None:
    n, hist, hor = 15, 14, 25
    world = make_world(n, hist + hor, seed=5, cvr_spread=0.3, cpc_spread=0.15, cvr_drift=0.05)
    facts = legacy_history(world, hist, 1500.0, seed=5)
    again = simulate(lambda s: world, hist, hor, 1500.0, facts, list(range(6)), PolicySettings(n_draws=500, cap=0.08),
                     1.0, 30.0, 0.97)
    pd.testing.assert_frame_equal(again.daily, sim.daily)


def test_infeasible_pacing_is_a_clear_error() -> None:
    world = make_world(10, 5, seed=1)
    facts = legacy_history(world, 3, 100.0, seed=1)
    with pytest.raises(ValueError, match="pacing is infeasible: floor 0.2 x 10 segments"):
        simulate(lambda s: world, 3, 2, 100.0, facts, [0], PolicySettings(floor=0.2), 1.0, 30.0, 1.0)
