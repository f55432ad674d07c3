"""Retargeting market: lifecycle transitions, the step's auctions against the reference loop, accounting."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from jobs.market.advertisers import load_advertisers
from models.market.auction import to_cents
from models.market.customers import (
    AWARENESS,
    CHURN_RISK,
    CONSIDERATION,
    INTEREST,
    PURCHASE,
    RETENTION,
    STAGES,
    LifecycleRules,
    advance,
    make_customers,
    mark_clicks,
)
from models.market.simulator import (
    STAGE_CTR_LIFT,
    MarketConfig,
    bids_for,
    make_market,
    simulate,
    step,
    strategies_from_config,
    summary,
)
from tests.auction_reference import reference_auctions

ADVERTISERS = load_advertisers()
RULES = LifecycleRules(cool_after=10, churn_after=20, lost_after=40, check_every=1)


def _customers(stages: list[int], t_last: int = 0):
    c = make_customers(len(stages), 2, np.random.default_rng(0))
    c.stage[:] = stages
    c.last_active[:] = t_last
    return c


def _idx(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


NONE = _idx()


def test_behaviour_moves_customers_down_the_funnel() -> None:
    c = _customers([AWARENESS, INTEREST, CONSIDERATION, CHURN_RISK, AWARENESS])
    advance(c, 1, _idx(0, 3, 4), _idx(1, 4), _idx(2), np.array([50.0]), RULES)
    assert c.stage.tolist() == [INTEREST, CONSIDERATION, PURCHASE, RETENTION, CONSIDERATION]
    before = _customers([AWARENESS] * 5).spent[2]
    assert (
        c.purchases[2] >= 1
        and c.spent[2] == pytest.approx(before + 50.0)
        and c.cart_value[2] == 0
        and c.cart_value[1] > 0
    )
    assert (c.last_active[[0, 1, 2, 3, 4]] == 1).all()
    advance(c, 2, NONE, NONE, NONE, np.zeros(0), RULES)
    assert c.stage[2] == RETENTION  # the step after a purchase


def test_recency_cools_churns_and_loses_customers() -> None:
    c = _customers([CONSIDERATION, RETENTION, CHURN_RISK, INTEREST])

    def at(t: int) -> list[int]:
        advance(c, t, NONE, NONE, NONE, np.zeros(0), RULES)
        return c.stage.tolist()

    assert at(11) == [INTEREST, RETENTION, CHURN_RISK, AWARENESS]  # idle > cool_after: one stage back
    assert at(21) == [INTEREST, CHURN_RISK, CHURN_RISK, AWARENESS]  # idle > churn_after; cooled 10 steps ago
    assert at(22) == [AWARENESS, CHURN_RISK, CHURN_RISK, AWARENESS]  # another cool_after idle: one more stage back
    assert at(41) == [AWARENESS, AWARENESS, AWARENESS, AWARENESS]  # idle > lost_after: start over
    f = c.features(41, RULES)
    assert f.shape == (4, 10) and np.isfinite(f).all()


def test_mean_features_of_opportunities_are_the_mean_of_their_feature_rows() -> None:
    m = simulate(MarketConfig(customers=3000, arrival_rate=0.05, pool_size=5000, seed=4),
                 strategies_from_config(ADVERTISERS), 200)
    c, rules = m.customers, m.cfg.lifecycle
    idx = np.random.default_rng(1).integers(0, c.n, 400)  # repeats count
    rows = c.features(m.t, rules)[idx]
    assert rows.std(axis=0).min() > 0  # every column varies: a wrong column cannot hide behind a constant
    np.testing.assert_allclose(c.mean_features(idx, m.t, rules), rows.mean(axis=0, dtype=np.float64), rtol=1e-6,
                               atol=1e-7)
    assert c.mean_features(np.zeros(0, dtype=np.int64), m.t, rules).tolist() == [0.0] * 10


def test_each_step_matches_the_one_auction_at_a_time_loop() -> None:
    m = make_market(MarketConfig(customers=2000, arrival_rate=0.05, pool_size=5000, seed=3),
                    strategies_from_config(ADVERTISERS))
    checked = 0
    for _ in range(60):  # budgets bind: daily budgets are small against 100 auctions an hour
        step(m, 60)
        a = m.last_auctions
        winners, prices, _ = reference_auctions(a["bids"], a["allowed"], m.cfg.rules, a["prio"])
        assert a["winner"].tolist() == winners and a["price"].tolist() == prices
        checked += len(winners)
    assert checked > 3000


def test_accounting_budgets_and_determinism() -> None:
    strategies = strategies_from_config(ADVERTISERS, ["aggressive", "retargeting", "adaptive"])
    cfg = MarketConfig(customers=3000, arrival_rate=0.03, pool_size=5000, seed=5)
    m = simulate(cfg, strategies, 96)
    s = summary(m).set_index("advertiser")
    hist = pd.DataFrame({k: [r[k] for r in m.history] for k in ("spend", "wins", "clicks", "conversions")})
    np.testing.assert_allclose(np.vstack(hist["spend"]).sum(axis=0), s["spend"])
    per_day = np.vstack(hist["spend"]).reshape(4, 24, 3).sum(axis=1)
    budgets = np.array([st.daily_budget for st in strategies])
    assert (per_day <= budgets[None, :] + 1e-9).all()  # even pacing never overspends a day
    assert (s["conversions"] <= s["clicks"]).all() and (s["clicks"] <= s["impressions"]).all()
    assert s["market_share"].sum() == pytest.approx(1.0)
    again = summary(simulate(cfg, strategies, 96))
    pd.testing.assert_frame_equal(again, summary(m))
    other = summary(simulate(MarketConfig(customers=3000, arrival_rate=0.03, pool_size=5000, seed=6), strategies, 96))
    assert not other["spend"].equals(summary(m)["spend"])


def test_unknown_advertiser_or_stage_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown advertiser\(s\) \['tiktok'\]"):
        strategies_from_config(ADVERTISERS, ["aggressive", "tiktok"])
    bad = {"x": {"multiplier": 1.0, "stages": ["awareness", "loyal"]}}
    with pytest.raises(ValueError, match="unknown stage 'loyal'"):
        strategies_from_config(bad)


def test_market_demo_cli_prints_progress_and_summary(capsys: pytest.CaptureFixture) -> None:
    from jobs.__main__ import main

    assert main(["market_demo", "--steps", "48", "--customers", "2000", "--advertisers", "aggressive,retargeting"]) == 0
    out = capsys.readouterr().out
    assert "hour 48/48" in out and "48 hours" in out and "Stage mix at the end" in out
    assert "| aggressive" in out and "| retargeting" in out and "adaptive" not in out
    with pytest.raises(SystemExit):
        main(["market_demo", "--advertisers", "tiktok"])


def test_expected_revenue_matches_realised_revenue_on_average() -> None:
    """The RL reward's expected revenue of each win (P(click) x P(cart) x P(buy) x order value) is the
    realised revenue without the dice: over many wins the two totals agree, per advertiser."""
    m = simulate(MarketConfig(customers=5000, arrival_rate=0.05, pool_size=5000, seed=3),
                 strategies_from_config(ADVERTISERS, list(ADVERTISERS)), 24 * 21)
    expected = np.sum([h["expected_revenue"] for h in m.history], axis=0)
    realised = np.sum([h["revenue"] for h in m.history], axis=0)
    assert expected.sum() == pytest.approx(realised.sum(), rel=0.05)
    conversions = np.sum([h["conversions"] for h in m.history], axis=0)
    big = conversions >= 100  # enough purchases for a per-advertiser check (order values vary 0.6-1.4x)
    assert big.sum() >= 2
    np.testing.assert_allclose(expected[big], realised[big], rtol=0.15)


def test_an_advertisers_assortment_follows_its_name_not_its_list_position() -> None:
    cfg = MarketConfig(customers=500, pool_size=1000, seed=7)
    listed = strategies_from_config(ADVERTISERS)
    forward = make_market(cfg, listed).affinity
    np.testing.assert_array_equal(make_market(cfg, listed[::-1]).affinity, forward[::-1])
    np.testing.assert_array_equal(make_market(cfg, listed[2:3]).affinity, forward[2:3])  # alone, or among others
    assert len({row.tobytes() for row in forward}) == len(listed)  # each advertiser its own assortment
    assert not np.array_equal(make_market(replace(cfg, seed=8), listed).affinity, forward)  # a seed draws anew


def test_bids_follow_the_formula_with_the_retargeting_bonus_of_past_clickers() -> None:
    """The bid kernel reads the bit of the advertiser it bids for in the customer's clicked set: the same bids as
    the formula on the decoded bits, for customers who clicked one advertiser, several or none; in cents as
    ``to_cents`` rounds and clips them, with a factor on one advertiser's bids or one per stage on another's."""
    # Every advertiser with a bonus of its own (the configured one bids on warm stages only, where it always applies).
    strategies = [replace(s, retarget_bonus=1.5 + 0.25 * i) for i, s in enumerate(strategies_from_config(ADVERTISERS))]
    m = simulate(MarketConfig(customers=3000, arrival_rate=0.05, pool_size=5000, seed=2), strategies, 72)
    c, k = m.customers, m.k
    reached = c.clicked_advertisers(k)
    assert reached.sum(axis=1).max() >= 2 and reached.any(axis=1).mean() < 0.9
    cust = np.arange(c.n)
    pctr = np.random.default_rng(0).uniform(0.01, 0.2, c.n)
    on_stage = np.stack([s.stage_mask() for s in strategies])[:, c.stage].T
    warm = np.isin(c.stage, [CONSIDERATION, CHURN_RISK])[:, None] | reached
    bonus = np.where(warm, np.array([s.retarget_bonus for s in strategies]), 1.0)
    value = np.array([s.value_per_click for s in strategies]) * m.affinity[:, c.category].T
    expected = np.where(on_stage, pctr[:, None] * STAGE_CTR_LIFT[c.stage][:, None] * value * m.multipliers * bonus,
                        0.0)
    got = bids_for(m, cust, pctr)
    assert got.stage.tolist() == c.stage.tolist() and got.category.tolist() == c.category.tolist()
    np.testing.assert_array_equal(got.cents, np.where(expected > 0, to_cents(expected, m.cfg.rules), 0))
    np.testing.assert_array_equal(got.placed, (expected > 0).sum(axis=0))
    scaled = bids_for(m, cust, pctr, bid_scale={1: 2.0, 3: np.linspace(0.25, 4.0, len(STAGES))})
    expected[:, 1] *= 2.0
    expected[:, 3] *= np.linspace(0.25, 4.0, len(STAGES))[c.stage]
    np.testing.assert_array_equal(scaled.cents, np.where(expected > 0, to_cents(expected, m.cfg.rules), 0))


@pytest.mark.parametrize("k", [3, 12, 32])
def test_marked_clicks_set_exactly_the_bits_of_the_clicked_advertisers(k: int) -> None:
    rng = np.random.default_rng(k)
    c = make_customers(50, k, rng)
    cust, adv = rng.integers(0, 50, 400), rng.integers(0, k, 400)  # repeats included
    mark_clicks(c, cust[:200], adv[:200])
    mark_clicks(c, cust[200:], adv[200:])
    expected = np.zeros((50, k), dtype=bool)
    expected[cust, adv] = True
    np.testing.assert_array_equal(c.clicked_advertisers(k), expected)


def test_a_market_of_more_advertisers_than_the_click_bit_set_holds_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 32 advertisers.*got 33"):
        make_customers(10, 33, np.random.default_rng(0))
    assert make_customers(10, 32, np.random.default_rng(0)).clicked.dtype == np.uint32
