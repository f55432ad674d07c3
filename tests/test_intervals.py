"""Intervals over seeds: ratios stay inside their range and cover their truth about as often as they claim."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.common.intervals import ratio_interval, t_interval


def test_a_ratio_with_a_near_empty_seed_stays_positive_where_the_t_interval_goes_negative() -> None:
    spend = np.array([1000.0, 900.0, 1100.0, 3.0, 950.0])
    roas = np.array([2.0, 2.2, 1.8, 90.0, 2.1])
    naive = t_interval(roas)
    assert naive["lo"] < 0 < naive["mean"]  # what the report printed: an ROAS interval starting below zero
    r = ratio_interval(spend * roas, spend)
    assert r["mean"] == pytest.approx((spend * roas).sum() / spend.sum())
    assert 0 < r["lo"] < r["mean"] < r["hi"] < 3 and r["n"] == 5 and r["undefined"] == 0


def test_rates_stay_in_zero_one_and_undefined_seeds_are_counted() -> None:
    clicks, impressions = np.array([97.0, 99.0, 100.0, 95.0]), np.array([100.0, 100.0, 100.0, 100.0])
    r = ratio_interval(clicks, impressions, rate=True)
    assert 0 < r["lo"] < r["mean"] < r["hi"] < 1
    assert ratio_interval(clicks, impressions)["hi"] > 1  # the same numbers as a plain ratio: no such bound
    r = ratio_interval([5.0, np.nan, 7.0, 1.0], [10.0, 10.0, 0.0, 5.0], rate=True)
    assert r["n"] == 2 and r["undefined"] == 2 and r["mean"] == pytest.approx(6 / 15)
    empty = ratio_interval([1.0], [0.0])
    assert np.isnan(empty["mean"]) and empty["undefined"] == 1
    zero = ratio_interval([0.0, 0.0], [5.0, 6.0], rate=True)
    assert zero["mean"] == 0 and np.isnan(zero["lo"]) and np.isnan(zero["hi"])  # on the scale's edge: no guess


@pytest.mark.parametrize("seeds", [5, 10, 30])
def test_coverage_over_synthetic_replications_is_near_nominal(seeds: int) -> None:
    """1,000 replications of ``seeds`` seeds: spend varies by seed (log-sd 0.3), ROAS by seed (log-sd 0.3) around
    a known ratio of expectations; clicks are binomial around a known CTR."""
    rng = np.random.default_rng(seeds)
    true_roas, true_ctr = 2.0 * np.exp(0.045), 0.03 * np.exp(0.045)
    hits_roas = hits_ctr = 0
    for _ in range(1000):
        spend = rng.lognormal(np.log(1000), 0.3, seeds)
        r = ratio_interval(spend * 2.0 * rng.lognormal(0, 0.3, seeds), spend)
        hits_roas += r["lo"] <= true_roas <= r["hi"]
        impressions = rng.poisson(2000, seeds)
        c = ratio_interval(rng.binomial(impressions, 0.03 * rng.lognormal(0, 0.3, seeds)), impressions, rate=True)
        hits_ctr += c["lo"] <= true_ctr <= c["hi"]
    assert 0.91 <= hits_roas / 1000 <= 0.98 and 0.91 <= hits_ctr / 1000 <= 0.98, (hits_roas, hits_ctr)


def test_t_interval_of_paired_differences_is_unchanged() -> None:
    diff = pd.Series([1.0, 2.0, 3.0, np.nan])
    out = t_interval(diff)
    assert out["mean"] == 2.0 and out["lo"] < 2.0 < out["hi"]
