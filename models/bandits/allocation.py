"""Thompson-sampling budget shares over segments, with exact pacing constraints.

Each segment has a Beta(alpha, beta) posterior on its conversion rate per click. A day's
shares come from many joint posterior draws: by default the share of draws in which a
segment is best (probability matching), or the draws' mean normalised rates. A value
scale (e.g. clicks per unit of spend, 1 / CPC) turns rates into conversions per unit of
budget before comparing. Pacing then projects the shares onto

    share_i >= floor,   |share_i - previous_i| <= cap,   sum_i share_i = 1

as the Euclidean projection (the closest feasible plan), not clipping, which would break
the sum. With ``monotone=True`` every share also stays between yesterday's value and its
target, so a segment only ever moves the way the policy wants it to: without this, a
concentrated target (all draws pick one segment) would pull every other segment towards a
common level, feeding small, poor segments from large, good ones.
"""

from __future__ import annotations

import numpy as np


def pacing_bounds(n: int, floor: float, cap: float | None, previous: np.ndarray | None,
                  target: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment lower and upper share bounds; ValueError when no plan can meet them.

    With ``target`` (and ``previous``) each share is also kept between its previous value
    and its target (floor permitting), which is always feasible when ``previous`` is.
    """
    if not 0 <= floor <= 1:
        raise ValueError(f"floor must be in [0, 1], got {floor}")
    lo, hi = np.full(n, float(floor)), np.ones(n)
    if previous is not None and cap is not None:
        prev = np.asarray(previous, dtype=np.float64)
        if prev.shape != (n,):
            raise ValueError(f"previous shares must have shape ({n},), got {prev.shape}")
        if cap < 0:
            raise ValueError(f"cap must be >= 0, got {cap}")
        lo, hi = np.maximum(lo, prev - cap), np.minimum(hi, prev + cap)
    if previous is not None and target is not None:
        prev = np.asarray(previous, dtype=np.float64)
        lo = np.minimum(np.maximum(lo, np.minimum(prev, target)), np.maximum(prev, lo))
        hi = np.maximum(np.minimum(hi, np.maximum(prev, target)), lo)
    if np.any(lo > hi + 1e-12) or lo.sum() > 1 + 1e-9 or hi.sum() < 1 - 1e-9:
        raise ValueError(
            f"pacing is infeasible: floor {floor} x {n} segments = {floor * n:.3f}"
            + (f", cap {cap} around yesterday's plan" if previous is not None and cap is not None else "")
            + f" (bounds sum to [{lo.sum():.3f}, {hi.sum():.3f}], must contain 1)"
        )
    return lo, hi


def project_shares(
    target: np.ndarray, floor: float = 0.0, cap: float | None = None, previous: np.ndarray | None = None,
    monotone: bool = False,
) -> np.ndarray:
    """The feasible plan closest (Euclidean) to ``target``.

    Solves min ||s - target||^2 subject to lo <= s <= hi and sum(s) = 1, whose solution is
    s = clip(target - tau, lo, hi) with the scalar tau found by bisection (the sum is
    monotone in tau), so the constraints hold exactly up to floating point.
    """
    x = np.asarray(target, dtype=np.float64)
    lo, hi = pacing_bounds(x.size, floor, cap, previous, x if monotone else None)
    a, b = float(np.min(x - hi)) - 1.0, float(np.max(x - lo)) + 1.0  # sum(a) >= 1 >= sum(b)
    for _ in range(200):
        tau = (a + b) / 2
        if np.clip(x - tau, lo, hi).sum() > 1:
            a = tau
        else:
            b = tau
    s = np.clip(x - (a + b) / 2, lo, hi)
    # Spread the last rounding residue over segments with room, so the sum is 1 exactly.
    resid = 1.0 - s.sum()
    room = (hi - s) if resid > 0 else (s - lo)
    if room.sum() > 0:
        s += resid * room / room.sum()
    return s


def best_feasible_shares(
    values: np.ndarray, floor: float = 0.0, cap: float | None = None, previous: np.ndarray | None = None
) -> np.ndarray:
    """The feasible plan that maximises ``sum(values * shares)``: the oracle's allocation.

    A linear objective over a box intersected with the simplex is solved greedily: every
    segment gets its lower bound, then the rest of the budget fills segments in order of
    value, each up to its upper bound.
    """
    v = np.asarray(values, dtype=np.float64)
    lo, hi = pacing_bounds(v.size, floor, cap, previous)
    order = np.argsort(-v, kind="stable")
    room = (hi - lo)[order]
    left = 1.0 - lo.sum()
    # Room used by the segments ranked above each one, so each gets min(room, what is left).
    before = np.concatenate([[0.0], np.cumsum(room)[:-1]])
    give = np.clip(left - before, 0.0, room)
    s = lo.copy()
    s[order] += give
    return s
