"""Thompson shares and the pacing projection: properties that must hold for any input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.bandits.allocation import best_feasible_shares, pacing_bounds, project_shares
from models.bandits.thompson import thompson_shares

shares_st = st.integers(2, 40).flatmap(
    lambda n: st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=n, max_size=n)
)


def _simplex(raw: list[float]) -> np.ndarray:
    x = np.asarray(raw) + 1e-3
    return x / x.sum()


@settings(max_examples=300, deadline=None)
@given(target=shares_st, prev_raw=shares_st, floor_frac=st.floats(0, 0.99), cap=st.floats(0.0, 1.0))
def test_projection_meets_floor_cap_and_sum(target, prev_raw, floor_frac, cap) -> None:
    n = len(target)
    prev = _simplex((prev_raw * n)[:n])
    floor = floor_frac * min(1.0 / n, prev.min())  # keeps yesterday's plan feasible
    s = project_shares(np.asarray(target), floor=floor, cap=cap, previous=prev)
    assert abs(s.sum() - 1) < 1e-9
    assert np.all(s >= floor - 1e-9)
    assert np.all(np.abs(s - prev) <= cap + 1e-9)


@settings(max_examples=200, deadline=None)
@given(target=shares_st, floor_frac=st.floats(0, 0.99))
def test_projection_is_the_closest_feasible_plan(target, floor_frac) -> None:
    x = np.asarray(target)
    floor = floor_frac / len(x)
    s = project_shares(x, floor=floor)
    rng = np.random.default_rng(0)
    for _ in range(20):  # no random feasible plan is closer to the target
        other = project_shares(rng.dirichlet(np.ones(len(x))), floor=floor)
        assert np.sum((s - x) ** 2) <= np.sum((other - x) ** 2) + 1e-9


def test_feasible_target_is_left_alone_and_infeasible_pacing_says_why() -> None:
    t = np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(project_shares(t, floor=0.1, cap=0.5, previous=t), t, atol=1e-12)
    with pytest.raises(ValueError, match=r"floor 0.4 x 3 segments = 1.200"):
        pacing_bounds(3, 0.4, None, None)
    with pytest.raises(ValueError, match="cap 0.0 around yesterday's plan"):
        project_shares(t, cap=0.0, previous=np.array([0.6, 0.3, 0.2]))


def test_thompson_best_mode_follows_the_posterior() -> None:
    rng = np.random.default_rng(1)
    # segment 2 is clearly best, 0 and 1 tie
    s = thompson_shares(np.array([20.0, 20.0, 60.0]), np.array([180.0, 180.0, 140.0]), 5000, rng)
    assert abs(s.sum() - 1) < 1e-12 and s[2] > 0.99
    tie = thompson_shares(np.array([5.0, 5.0]), np.array([50.0, 50.0]), 20000, np.random.default_rng(2))
    assert abs(tie[0] - 0.5) < 0.02
    # a value scale (clicks per unit of spend) can reverse the ranking
    cheap = thompson_shares(np.array([20.0, 25.0]), np.array([180.0, 175.0]), 4000, np.random.default_rng(3),
                            value_scale=np.array([3.0, 1.0]))
    assert cheap[0] > 0.99


def test_thompson_is_seeded_and_proportional_mode_sums_to_one() -> None:
    a, b = np.array([2.0, 3.0, 4.0]), np.array([20.0, 20.0, 20.0])
    one = thompson_shares(a, b, 3000, np.random.default_rng(7), mode="proportional")
    two = thompson_shares(a, b, 3000, np.random.default_rng(7), mode="proportional")
    np.testing.assert_array_equal(one, two)
    assert abs(one.sum() - 1) < 1e-12 and one[2] > one[1] > one[0]


@pytest.mark.parametrize("kwargs, msg", [
    ({"alpha": np.array([1.0, -1.0]), "beta": np.array([1.0, 1.0])}, "must be > 0"),
    ({"alpha": np.array([1.0]), "beta": np.array([1.0, 1.0])}, "equal-length"),
    ({"alpha": np.array([1.0]), "beta": np.array([1.0]), "mode": "greedy"}, "mode must be one of"),
])
def test_thompson_rejects_bad_input(kwargs, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        thompson_shares(n_draws=10, rng=np.random.default_rng(0), **kwargs)


@settings(max_examples=300, deadline=None)
@given(target=shares_st, prev_raw=shares_st, floor_frac=st.floats(0, 0.99), cap=st.floats(0.001, 1.0))
def test_monotone_projection_only_moves_towards_the_target(target, prev_raw, floor_frac, cap) -> None:
    n = len(target)
    t = _simplex(target)
    prev = _simplex((prev_raw * n)[:n])
    floor = floor_frac * min(1.0 / n, prev.min())
    s = project_shares(t, floor=floor, cap=cap, previous=prev, monotone=True)
    assert abs(s.sum() - 1) < 1e-9 and np.all(s >= floor - 1e-9) and np.all(np.abs(s - prev) <= cap + 1e-9)
    up, down = s > prev + 1e-9, s < prev - 1e-9
    assert np.all(t[up] >= prev[up] - 1e-9), "a segment grew although its target is below yesterday's share"
    assert np.all(t[down] <= prev[down] + 1e-9), "a segment shrank although its target is above yesterday's share"


def test_best_feasible_shares_is_the_lp_optimum() -> None:
    from scipy.optimize import linprog

    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(2, 15))
        v, prev = rng.random(n), rng.dirichlet(np.ones(n))
        floor, cap = 0.5 * min(prev.min(), 1 / n), float(rng.uniform(0.01, 0.5))
        s = best_feasible_shares(v, floor, cap, prev)
        lo, hi = pacing_bounds(n, floor, cap, prev)
        ref = linprog(-v, A_eq=np.ones((1, n)), b_eq=[1.0], bounds=list(zip(lo, hi)))
        assert ref.status == 0
        assert abs(s.sum() - 1) < 1e-9 and np.all(s >= lo - 1e-12) and np.all(s <= hi + 1e-12)
        assert v @ s >= -ref.fun - 1e-9
