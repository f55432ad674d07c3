"""Sealed-bid second-price auctions with reserve, increment, budgets and even pacing, resolved in batches.

Groundwork of the retargeting market simulator; no I/O. Money is integer cents
(int64), so the vectorised resolution and a one-auction-at-a-time loop give identical
results, not merely close ones.

Rules, for the auctions of one timestep taken in their order:

- bids are clipped to [min_bid, max_bid]; a bid below the reserve does not take part;
- an advertiser takes part only while its remaining budget for the timestep covers its
  whole bid (so it can never pay more than it has);
- the highest bid wins; ties go to the bidder with the highest priority (a seeded random
  draw per auction and bidder, or the lowest advertiser id);
- the winner pays min(max(second bid, reserve) + increment, its own bid).

Budgets couple the auctions of a timestep: a win lowers what is left for the next
auctions. The batch is solved by a fixed point: resolve every auction with the current
eligibility, recompute each advertiser's remaining budget before every auction with a
cumulative sum, derive the eligibility again, and re-resolve only from the first auction
whose eligibility changed. Everything before that auction is final, so the loop ends.
Blocks where no budget can run out skip the fixed point, and the others are halved until
it only runs on short stretches around the auctions where a budget runs out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CENT = 100


@dataclass(frozen=True)
class AuctionRules:
    """Auction parameters in currency units (converted to cents inside)."""

    min_bid: float = 0.01
    max_bid: float = 20.00
    reserve: float = 0.05
    increment: float = 0.01
    tie_break: str = "random"  # random (seeded draw per auction) | id (lowest advertiser id wins)

    def cents(self) -> tuple[int, int, int, int]:
        return tuple(int(round(v * CENT)) for v in (self.min_bid, self.max_bid, self.reserve, self.increment))  # type: ignore[return-value]


@dataclass
class AuctionResult:
    """Per auction: winner (-1 = none) and price in cents; per advertiser: spend in cents; passes used."""

    winner: np.ndarray
    price: np.ndarray
    spend: np.ndarray
    passes: int


def to_cents(bids: np.ndarray, rules: AuctionRules) -> np.ndarray:
    """Bids in currency units -> clipped integer cents."""
    lo, hi, _, _ = rules.cents()
    return np.clip(np.round(np.asarray(bids, dtype=np.float64) * CENT), lo, hi).astype(np.int64)


def priorities(n: int, n_bidders: int, rules: AuctionRules, rng: np.random.Generator) -> np.ndarray:
    """Tie-break priority per auction and bidder (higher wins a tie)."""
    if rules.tie_break == "id":
        return np.broadcast_to(-np.arange(n_bidders, dtype=np.float64), (n, n_bidders))
    if rules.tie_break != "random":
        raise ValueError(f"tie_break must be random|id, got {rules.tie_break!r}")
    return rng.random((n, n_bidders))


def _resolve(
    bids: np.ndarray, eligible: np.ndarray, prio: np.ndarray, reserve: int, increment: int
) -> tuple[np.ndarray, np.ndarray]:
    """Winner and price of each auction given who may take part (rows are auctions)."""
    masked = np.where(eligible, bids, -1)
    top = masked.max(axis=1)
    at_top = masked == top[:, None]
    winner = np.argmax(np.where(at_top, prio, -np.inf), axis=1)
    second = np.where(np.arange(bids.shape[1])[None, :] == winner[:, None], -1, masked).max(axis=1)
    has = top >= 0
    price = np.where(has, np.minimum(np.maximum(second, reserve) + increment, top), 0)
    return np.where(has, winner, -1), np.where(has, price, 0).astype(np.int64)


def _fixed_point(bids: np.ndarray, base: np.ndarray, prio: np.ndarray, remaining: np.ndarray, reserve: int,
                 increment: int, max_passes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact resolution of a block whose budgets may run out inside it (see the module docstring)."""
    n, k = bids.shape
    eligible = base & (bids <= remaining[None, :])
    winner, price = np.full(n, -1), np.zeros(n, dtype=np.int64)
    start, passes = 0, 0
    while start < n:
        if passes == max_passes:
            raise RuntimeError(f"budget fixed point did not settle in {max_passes} passes")
        passes += 1
        winner[start:], price[start:] = _resolve(bids[start:], eligible[start:], prio[start:], reserve, increment)
        paid = np.zeros((n, k), dtype=np.int64)
        won = np.flatnonzero(winner >= 0)
        paid[won, winner[won]] = price[won]
        now = base & (bids <= remaining[None, :] - (np.cumsum(paid, axis=0) - paid))
        changed = np.flatnonzero((now[start:] != eligible[start:]).any(axis=1))
        eligible = now
        if changed.size == 0:
            break
        start += int(changed[0])
    return winner, price, passes


def run_auctions(bids_cents: np.ndarray, budget_cents: np.ndarray, rules: AuctionRules, prio: np.ndarray,
                 block: int = 2048, leaf: int = 256, max_passes: int = 10_000) -> AuctionResult:
    """Resolve a timestep's auctions (rows of ``bids_cents``, in order) under the advertisers' budgets.

    Auctions go in blocks. In a block where every advertiser either can afford all its bids
    (the sum fits its remaining budget) or none of them (its remaining budget is below its
    smallest bid), eligibility is known up front and one vectorised pass is exact. A block
    where a budget runs out is halved, left half first, until the halves are easy or at
    most ``leaf`` auctions long; only those small leaves need the fixed point.

    Args:
        bids_cents: (auctions, advertisers) int64 bids in cents, 0 = no bid.
        budget_cents: (advertisers,) what each may spend in this timestep (pacing applied).
        rules: reserve, increment and tie-break.
        prio: (auctions, advertisers) tie-break priorities from :func:`priorities`.
    """
    _, _, reserve, increment = rules.cents()
    bids = np.asarray(bids_cents, dtype=np.int64)
    n, k = bids.shape
    remaining = np.asarray(budget_cents, dtype=np.int64).copy()
    winner, price = np.full(n, -1), np.zeros(n, dtype=np.int64)
    passes = 0

    def solve(lo: int, hi: int) -> None:
        nonlocal passes, remaining
        b, base = bids[lo:hi], bids[lo:hi] >= reserve
        smallest = np.where(base, b, np.iinfo(np.int64).max).min(axis=0)
        all_in, none_in = np.where(base, b, 0).sum(axis=0) <= remaining, remaining < smallest
        if np.all(all_in | none_in):
            w, p = _resolve(b, base & all_in[None, :], prio[lo:hi], reserve, increment)
            passes += 1
        elif hi - lo > leaf:
            mid = (lo + hi) // 2
            solve(lo, mid)
            solve(mid, hi)
            return
        else:
            w, p, used = _fixed_point(b, base, prio[lo:hi], remaining, reserve, increment, max_passes)
            passes += used
        winner[lo:hi], price[lo:hi] = w, p
        won = w >= 0
        remaining = remaining - np.bincount(w[won], weights=p[won], minlength=k).astype(np.int64)

    for start in range(0, n, block):  # a loop over blocks of auctions, each block vectorised
        solve(start, min(start + block, n))
    won = winner >= 0
    spend = np.bincount(winner[won], weights=price[won], minlength=k).astype(np.int64)
    return AuctionResult(winner, price, spend, passes)


def even_pacing(remaining_cents: np.ndarray, steps_left: int) -> np.ndarray:
    """Even pacing: the share of the remaining budget one timestep may spend (whole cents)."""
    if steps_left < 1:
        raise ValueError(f"steps_left must be >= 1, got {steps_left}")
    return np.asarray(remaining_cents, dtype=np.int64) // steps_left
