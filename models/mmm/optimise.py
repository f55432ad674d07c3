"""Budget optimiser of the MMM: the split of a total budget that maximises predicted sales value.

Decision variables are the spend of each cell, a channel within a brand x geo (by
default; ``by`` chooses), over the reference period of :mod:`models.mmm.response`, as a
multiple of the cell's current spend (flighting within the cell is kept). Constraints:
total spend = budget; per channel, its share of the budget within [min, max]; per
cell, its spend within [lo, hi] x its current spend (one pair for all cells, or per
channel by name). scipy's SLSQP maximises the MAP sales value with the exact gradient;
the uplift over the current plan (rescaled to the same budget) gets an interval from the
posterior draws.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.mmm.response import PlanError, Posterior, channel_index, outcome, value_and_gradient

log = logging.getLogger(__name__)


@dataclass
class Optimum:
    """The optimal plan and what it is worth against the current one."""

    cells: pd.DataFrame      # channel, <by...>, current_spend, optimal_spend, multiplier
    channels: pd.DataFrame   # channel, current_spend, optimal_spend, current_share, optimal_share
    uplift: dict[str, float]  # value, value_lo, value_hi, pct, pct_lo, pct_hi; current and optimal value
    multipliers: np.ndarray  # (S, C)


def _cells(post: Posterior, by: tuple[str, ...]) -> tuple[pd.DataFrame, np.ndarray]:
    """Cells with current spend > 0 and the (series, channel) -> cell index map (-1: no spend, stays 0)."""
    group = post.keys.groupby(list(by), sort=True).ngroup().to_numpy() if by else np.zeros(len(post.keys), dtype=int)
    labels = post.keys[list(by)].assign(_g=group).drop_duplicates("_g").set_index("_g").sort_index()
    rows, index = [], -np.ones(post.spend.shape, dtype=int)
    for c, ch in enumerate(post.channels):
        spend = np.bincount(group, weights=post.spend[:, c], minlength=len(labels))
        for g in np.flatnonzero(spend > 0):
            index[(group == g), c] = len(rows)
            rows.append({"channel": ch, **labels.loc[g].to_dict(), "current_spend": float(spend[g]), "_c": c})
    return pd.DataFrame(rows), index


def _check(post: Posterior, cells: pd.DataFrame, budget: float, share: dict[str, tuple[float, float]],
           lo: np.ndarray, hi: np.ndarray) -> None:
    """Feasibility before solving, so an impossible request says which bound breaks it."""
    cur = cells["current_spend"].to_numpy()
    if budget <= 0:
        raise PlanError(f"budget must be > 0, got {budget}")
    if (lo * cur).sum() > budget * (1 + 1e-9) or (hi * cur).sum() < budget * (1 - 1e-9):
        raise PlanError(f"budget {budget:,.0f} is outside what the cell bounds allow: "
                        f"[{(lo * cur).sum():,.0f}, {(hi * cur).sum():,.0f}]")
    mins = sum(v[0] for v in share.values())
    if mins > 1 + 1e-9:
        raise PlanError(f"channel minimum shares add up to {mins:.3f} > 1")
    for ch, (smin, smax) in share.items():
        c = channel_index(post, ch, "channel_share")
        if not 0 <= smin <= smax <= 1:
            raise PlanError(f"channel_share {ch}: need 0 <= min <= max <= 1, got ({smin}, {smax})")
        rows = (cells["_c"] == c).to_numpy()
        reach = ((lo[rows] * cur[rows]).sum(), (hi[rows] * cur[rows]).sum())
        if smin * budget > reach[1] * (1 + 1e-9) or smax * budget < reach[0] * (1 - 1e-9):
            raise PlanError(f"channel_share {ch} ({smin:.0%}-{smax:.0%} of {budget:,.0f}) cannot be met within its "
                            f"cell bounds, which allow {reach[0]:,.0f}-{reach[1]:,.0f}")


def optimise(
    post: Posterior,
    budget: float | None = None,
    channel_share: dict[str, tuple[float, float]] | None = None,
    cell_bounds: tuple[float, float] = (0.5, 2.0),
    channel_cell_bounds: dict[str, tuple[float, float]] | None = None,
    by: tuple[str, ...] | None = None,
    level: float = 0.9,
    max_iter: int = 1000,
) -> Optimum:
    """Maximise MAP sales value for ``budget`` (default: today's total) under the bounds; PlanError if infeasible.
    Cells are channel x the members of ``by`` (default: the pooled levels, e.g. brand x geo)."""
    from scipy.optimize import minimize

    share = dict(channel_share or {})
    per_channel = dict(channel_cell_bounds or {})
    for ch in per_channel:
        channel_index(post, ch, "channel_cell_bounds")
    cells, index = _cells(post, post.levels if by is None else tuple(by))
    cur = cells["current_spend"].to_numpy()
    budget = float(cur.sum()) if budget is None else float(budget)
    bounds = np.array([per_channel.get(ch, cell_bounds) for ch in cells["channel"]], dtype=float)
    lo, hi = bounds[:, 0], bounds[:, 1]
    if np.any(lo < 0) or np.any(hi < lo):
        raise PlanError(f"cell bounds need 0 <= lo <= hi, got {cell_bounds} / {per_channel}")
    _check(post, cells, budget, share, lo, hi)
    has = index >= 0

    def multipliers(x: np.ndarray) -> np.ndarray:
        m = np.zeros_like(post.spend)
        m[has] = x[index[has]]
        return m

    # Objective and constraints scaled to O(1): value relative to today's, spend relative to the budget.
    v0, _ = value_and_gradient(post, np.ones_like(post.spend))

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = value_and_gradient(post, multipliers(x))
        return -v / v0, -np.bincount(index[has], weights=g[has], minlength=len(x)) / v0

    cons = [{"type": "eq", "fun": lambda x: (x @ cur - budget) / budget, "jac": lambda x: cur / budget}]
    for ch, (smin, smax) in share.items():
        rows = (cells["channel"] == ch).to_numpy().astype(float) * cur / budget
        cons.append({"type": "ineq", "fun": lambda x, r=rows, s=smin: x @ r - s, "jac": lambda x, r=rows: r})
        cons.append({"type": "ineq", "fun": lambda x, r=rows, s=smax: s - x @ r, "jac": lambda x, r=rows: -r})
    x0 = np.clip(np.full(len(cur), budget / cur.sum()), lo, hi)
    res = minimize(objective, x0, jac=True, method="SLSQP", bounds=list(zip(lo, hi)), constraints=cons,
                   options={"maxiter": max_iter, "ftol": 1e-9})
    x = np.clip(res.x, lo, hi)
    violated = [c["fun"](x) for c in cons[1:] if c["fun"](x) < -1e-6] + (
        [1.0] if abs(x @ cur - budget) > 1e-6 * budget else []
    )
    if violated:
        raise PlanError(f"the optimiser ended outside the constraints: {res.message} (spend {x @ cur:,.0f} for "
                        f"budget {budget:,.0f}, {len(violated)} constraint(s) broken)")
    if not res.success:  # feasible but not proven optimal (e.g. the iteration limit): still a valid plan, say so
        log.warning(
            "optimiser: %s after %d iterations; the plan is feasible but may not be optimal", res.message, res.nit
        )
    log.info("optimiser: %d cells, %d iterations, %s", len(x), res.nit, res.message)
    m_opt = multipliers(x)
    m_cur = np.ones_like(post.spend) * budget / float(post.spend.sum())  # today's mix at the same budget
    _, v_opt = outcome(post, m_opt)
    _, v_cur = outcome(post, m_cur)
    diff, pct = v_opt - v_cur, 100 * (v_opt / v_cur - 1)
    q = [(1 - level) / 2, (1 + level) / 2]
    uplift = {
        "current_value": float(v_cur[0]),
        "optimal_value": float(v_opt[0]),
        "budget": budget,
        "value": float(diff[0]),
        "value_lo": float(np.quantile(diff[1:], q[0])),
        "value_hi": float(np.quantile(diff[1:], q[1])),
        "pct": float(pct[0]),
        "pct_lo": float(np.quantile(pct[1:], q[0])),
        "pct_hi": float(np.quantile(pct[1:], q[1])),
    }
    cells = cells.drop(columns="_c").assign(optimal_spend=x * cur, multiplier=x)
    by_ch = cells.groupby("channel", sort=False)[["current_spend", "optimal_spend"]].sum().reset_index()
    by_ch["current_share"] = by_ch["current_spend"] / by_ch["current_spend"].sum()
    by_ch["optimal_share"] = by_ch["optimal_spend"] / budget
    return Optimum(cells, by_ch, uplift, m_opt)


def frontier(post: Posterior, budgets: np.ndarray, **bounds: object) -> pd.DataFrame:
    """Budget-efficiency frontier: optimal and current-mix sales value (MAP) for each budget; budgets the
    bounds cannot reach are skipped with a log line."""
    rows = []
    for b in budgets:
        try:
            opt = optimise(post, float(b), **bounds)  # type: ignore[arg-type]
        except PlanError as exc:
            log.info("frontier: budget %.0f skipped (%s)", b, exc)
            continue
        rows.append({"budget": float(b), "optimal_value": opt.uplift["optimal_value"],
                     "current_mix_value": opt.uplift["current_value"], "uplift_pct": opt.uplift["pct"]})
    return pd.DataFrame(rows)
