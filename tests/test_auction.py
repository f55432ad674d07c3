"""Second-price auctions: each rule on its own, then the compiled kernel against the reference loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.market.auction import AuctionRules, even_pacing, priorities, run_auctions, to_cents
from tests.auction_reference import reference_auctions

RULES = AuctionRules()
BIG = np.full(3, 10**9)


def one(bids: list[float], budget: np.ndarray = BIG, rules: AuctionRules = RULES, prio: list[float] | None = None):
    b = to_cents(np.array([bids]), rules)
    p = np.array([prio if prio is not None else [0.0] * len(bids)])
    r = run_auctions(b, budget[: len(bids)], rules, p)
    return int(r.winner[0]), int(r.price[0])


def test_winner_pays_second_bid_plus_increment() -> None:
    assert one([1.00, 0.60, 0.30]) == (0, 61)


def test_reserve_sets_the_floor_and_excludes_low_bids() -> None:
    assert one([1.00, 0.04, 0.02]) == (0, 6)  # second below reserve: pays reserve + increment
    assert one([0.04, 0.03, 0.02]) == (-1, 0)  # nobody reaches the reserve


def test_price_never_exceeds_own_bid() -> None:
    assert one([0.50, 0.50, 0.10], prio=[0.9, 0.1, 0.0]) == (0, 50)  # tie: second = own bid
    assert one([0.055, 0.05, 0.0]) == (0, 6)  # bids round to cents: 6 vs 5 -> min(5 + 1, 6)


def test_bids_are_clipped_to_the_allowed_range() -> None:
    assert to_cents(np.array([25.0, 0.001]), RULES).tolist() == [2000, 1]


def test_ties_random_or_by_id() -> None:
    assert one([0.70, 0.70, 0.10], prio=[0.2, 0.8, 0.5])[0] == 1
    by_id = AuctionRules(tie_break="id")
    b = to_cents(np.full((50, 3), 0.7), by_id)
    r = run_auctions(b, BIG, by_id, priorities(50, 3, by_id, np.random.default_rng(0)))
    assert set(r.winner) == {0}
    draws = run_auctions(b, BIG, RULES, priorities(50, 3, RULES, np.random.default_rng(0))).winner
    assert set(draws) == {0, 1, 2}  # a seeded draw spreads ties


def test_budget_is_never_exceeded_and_excludes_unaffordable_bids() -> None:
    rng = np.random.default_rng(1)
    bids = to_cents(rng.uniform(0.1, 2.0, (3000, 4)), RULES)
    budget = np.array([5000, 20000, 100, 10**9])
    r = run_auctions(bids, budget, RULES, priorities(3000, 4, RULES, rng))
    assert np.all(r.spend <= budget)
    assert r.spend[0] > 4800 and r.spend[1] > 19800  # tight budgets get used up, not left idle
    assert one([1.00, 0.60, 0.30], budget=np.array([99, 10**9, 10**9])) == (1, 31)  # 1.00 > 0.99 left


def test_even_pacing_splits_the_remaining_budget() -> None:
    assert even_pacing(np.array([1000, 999]), 10).tolist() == [100, 99]
    with pytest.raises(ValueError):
        even_pacing(np.array([1]), 0)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 3000), k=st.integers(1, 6), tight=st.floats(0.01, 3.0),
       tie=st.sampled_from(["random", "id"]))
def test_compiled_equals_the_reference_loop(seed, n, k, tight, tie) -> None:
    rng = np.random.default_rng(seed)
    rules = AuctionRules(tie_break=tie)
    # Coarse bids make ties common; budgets from a fraction of the total bid mass make them bind.
    bids = to_cents(np.round(rng.uniform(0.0, 1.0, (n, k)), 1), rules)
    budget = (tight * bids.sum(axis=0) / k).astype(np.int64)
    prio = np.ascontiguousarray(priorities(n, k, rules, rng))
    got = run_auctions(bids, budget, rules, prio)
    winners, prices, spend = reference_auctions(bids, budget, rules, prio)
    assert got.winner.tolist() == winners
    assert got.price.tolist() == prices
    assert got.spend.tolist() == spend
