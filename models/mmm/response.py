"""The fitted MMM's answer to a spend plan: what-if scenarios and response curves, with intervals.

A plan is read against a reference period, the last ``horizon`` weeks of the data (by
default the 13 holdout weeks): a plan says how much to spend per channel (optionally per
brand and geo) over such a quarter, and each series' weekly impressions of that channel
are scaled by planned / current spend, keeping the flighting pattern. Media bought before
the period still carries over into it through adstock.

Everything comes from one :class:`Posterior`: per Laplace draw (draw 0 is the MAP) the
channel effects, saturation, the baseline of the period and the adstock of earlier and
of the period's own media. Adstock is linear, so a plan only rescales the period's own
adstock and the response is a closed-form array expression over draws x series x
channels x weeks: no refit, no loop over rows or weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.common.errors import BadInputError
from models.mmm.transforms import adstock, saturate, saturate_grad


class PlanError(BadInputError):
    """A spend plan or optimiser setting that cannot be applied; the message names the row or channel."""


@dataclass
class Posterior:
    """Draws of everything a plan needs, over the reference period (S series, C channels, H weeks, D draws)."""

    keys: pd.DataFrame      # hierarchy columns per series (e.g. Geo, Brand, SKU; none for one national series)
    channels: list[str]
    weeks: list[str]        # the reference period's weeks (ISO dates)
    beta: np.ndarray        # (D, S, C) sales units per week at saturation
    half: np.ndarray        # (D, C) Hill half-point (scaled impressions)
    slope: np.ndarray       # (D, C)
    base: np.ndarray        # (D, S, H) baseline sales units
    carry: np.ndarray       # (D, S, C, H) adstock from media before the period
    own: np.ndarray         # (D, S, C, H) adstock of the period's own media at the current plan
    price: np.ndarray       # (S, H) net price, to value units
    spend: np.ndarray       # (S, C) current spend over the period
    saturation: str = "hill"
    levels: tuple[str, ...] = ()  # the pooled levels: response curves per member of each

    def plan_columns(self) -> list[str]:
        """The optional columns of a plan row: one per hierarchy level, lower-case (``brand``, ``geo``...)."""
        return [c.lower() for c in self.keys.columns]

    @property
    def n_draws(self) -> int:
        return self.beta.shape[0] - 1



def build_posterior(fitted: Any, data: Any, horizon: int, n_draws: int, seed: int) -> Posterior:
    """Laplace draws of a fitted model (models.mmm.model.MmmFit) turned into a :class:`Posterior`."""
    import torch

    from models.common.threads import torch_threads

    rng = np.random.default_rng(seed)
    thetas = np.vstack([fitted.theta, rng.multivariate_normal(fitted.theta, fitted.cov, size=n_draws, method="eigh")])
    S, C, W = data.media.shape
    period = slice(W - horizon, W)
    before, own_media = data.media.copy(), np.zeros_like(data.media)
    before[..., period], own_media[..., period] = 0.0, data.media[..., period]
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("beta", "half", "slope", "base", "carry", "own")}
    for th in thetas:  # one pass per draw (a few hundred), each vectorised over series, channels and weeks
        with torch.no_grad(), torch_threads(1):
            q = {k: v.numpy() for k, v in fitted.net.natural(torch.as_tensor(th)).items()}
        w = q["weights"][None, :, :]
        out["beta"].append(q["beta"])
        out["half"].append(q["half"])
        out["slope"].append(q["slope"])
        out["base"].append(np.exp(q["log_base"][:, period]))
        out["carry"].append(adstock(before, w)[..., period])
        out["own"].append(adstock(own_media, w)[..., period])
    return Posterior(keys=data.keys.reset_index(drop=True), channels=list(data.channels),
                     saturation=fitted.net.saturation, levels=tuple(data.groups),
                     weeks=[str(d.date()) for d in data.weeks[period]], price=data.price[:, period],
                     spend=data.spend[..., period].sum(axis=-1), **{k: np.stack(v) for k, v in out.items()})


def media_units(post: Posterior, mult: np.ndarray) -> np.ndarray:
    """Media sales units (D, S, C, H) when each series-channel's spend is scaled by ``mult`` (S, C)."""
    u = post.carry + mult[None, :, :, None] * post.own
    return post.beta[..., None] * saturate(
        u, post.half[:, None, :, None], post.slope[:, None, :, None], post.saturation
    )


def outcome(post: Posterior, mult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sales units, sales value) over the period per draw, each (D,), for spend multipliers (S, C)."""
    units = post.base + media_units(post, mult).sum(axis=2)
    return units.sum(axis=(1, 2)), (units * post.price[None]).sum(axis=(1, 2))


def value_and_gradient(post: Posterior, mult: np.ndarray) -> tuple[float, np.ndarray]:
    """MAP sales value of the period and its gradient in the multipliers (S, C): the optimiser's objective."""
    u = post.carry[0] + mult[..., None] * post.own[0]
    half, slope = post.half[0][None, :, None], post.slope[0][None, :, None]
    beta = post.beta[0][..., None]
    value = float(((post.base[0] + (beta * saturate(u, half, slope, post.saturation)).sum(axis=1)) * post.price).sum())
    d_sat = saturate_grad(u, half, slope, post.saturation)
    grad = (post.price[:, None, :] * beta * d_sat * post.own[0]).sum(axis=-1)
    return value, grad


def select(post: Posterior, where: dict[str, Any]) -> np.ndarray:
    """Boolean mask over series for hierarchy members (level column -> name; None or empty = all); PlanError for an
    unknown level or name."""
    mask = np.ones(len(post.keys), dtype=bool)
    columns = {c.lower(): c for c in post.keys.columns}
    for level, name in where.items():
        if name is None or (isinstance(name, float) and np.isnan(name)) or name == "":
            continue
        col = columns.get(str(level).lower())
        if col is None:
            raise PlanError(f"unknown level {level!r}; this model's levels: {list(post.keys.columns) or 'none'}")
        known = sorted(post.keys[col].unique())
        if name not in known:
            raise PlanError(f"unknown {col.lower()} {name!r}; known: {known}")
        mask &= (post.keys[col] == name).to_numpy()
    return mask


def channel_index(post: Posterior, name: str, where: str) -> int:
    if name not in post.channels:
        raise PlanError(f"{where}: unknown channel {name!r}; channels: {post.channels}")
    return post.channels.index(name)


def plan_multipliers(post: Posterior, plan: pd.DataFrame) -> np.ndarray:
    """Spend multipliers (S, C) for plan rows: channel, optional level columns (:meth:`Posterior.plan_columns`,
    e.g. brand / geo), and ``spend`` or ``scale``.

    A row sets the spend of its channel over the matching series (split as today);
    rows may not overlap; series and channels not named keep today's spend.
    """
    if "channel" not in plan.columns or not ({"spend", "scale"} & set(plan.columns)):
        raise PlanError(f"a plan needs a 'channel' column and 'spend' or 'scale'; got {list(plan.columns)}")
    mult = np.ones_like(post.spend)
    touched = np.zeros_like(post.spend, dtype=bool)
    for i, row in enumerate(plan.to_dict(orient="records")):  # plan rows are a handful of channels, not data rows
        where = f"plan row {i + 1}"
        c = channel_index(post, row["channel"], where)
        levels = {k: v for k, v in row.items() if k not in ("scenario", "channel", "spend", "scale")}
        mask = select(post, levels)
        spend, scale = row.get("spend"), row.get("scale")
        has_spend, has_scale = spend is not None and not pd.isna(spend), scale is not None and not pd.isna(scale)
        if has_spend == has_scale:
            raise PlanError(f"{where}: give exactly one of spend or scale, got spend={spend!r}, scale={scale!r}")
        if touched[mask, c].any():
            raise PlanError(f"{where}: {row['channel']} overlaps an earlier row for the same series")
        current = float(post.spend[mask, c].sum())
        factor = float(scale) if has_scale else (float(spend) / current if current > 0 else np.inf)
        if not np.isfinite(factor) or factor < 0:
            raise PlanError(f"{where}: {row['channel']} has no current spend to scale ({current:.2f}) "
                            f"or a negative value (spend={spend!r}, scale={scale!r})")
        mult[mask, c] = factor
        touched[mask, c] = True
    return mult


def _summary(draws: np.ndarray, prefix: str, level: float) -> dict[str, float]:
    lo, hi = np.quantile(draws[1:], [(1 - level) / 2, (1 + level) / 2]) if len(draws) > 1 else (np.nan, np.nan)
    return {prefix: float(draws[0]), f"{prefix}_lo": float(lo), f"{prefix}_hi": float(hi)}


def whatif(post: Posterior, scenarios: dict[str, pd.DataFrame], level: float = 0.9) -> pd.DataFrame:
    """One row per scenario (``current`` first): spend, predicted units and value, and the change in
    value against the current plan, each with a ``level`` interval over the draws (common draws)."""
    cur_units, cur_value = outcome(post, np.ones_like(post.spend))
    rows = [{"scenario": "current", "spend": float(post.spend.sum()), **_summary(cur_units, "units", level),
             **_summary(cur_value, "value", level), **_summary(np.zeros_like(cur_value), "delta_value", level)}]
    for name, plan in scenarios.items():
        mult = plan_multipliers(post, plan)
        units, value = outcome(post, mult)
        rows.append({"scenario": name, "spend": float((post.spend * mult).sum()), **_summary(units, "units", level),
                     **_summary(value, "value", level), **_summary(value - cur_value, "delta_value", level)})
    return pd.DataFrame(rows)


def response_curves(post: Posterior, grid: np.ndarray, level: float = 0.9) -> pd.DataFrame:
    """Incremental sales value and marginal ROI of each channel against its spend, nationally and per member of
    each pooled level (e.g. brand and geo): the channel's spend over the group's series is scaled by each ``grid``
    multiplier (which starts at 0, the channel off: the curves are increments over that)."""
    if grid[0] != 0 or np.any(np.diff(grid) <= 0):
        raise PlanError(f"the curve grid must start at 0 and increase, got {grid[:3]}...")
    groups = [("national", "all", np.ones(len(post.keys), dtype=bool))]
    groups += [
        (col, name, (post.keys[col] == name).to_numpy())
        for col in post.levels for name in sorted(post.keys[col].unique())
    ]
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    frames = []
    for kind, name, mask in groups:
        for c, ch in enumerate(post.channels):
            current = float(post.spend[mask, c].sum())
            if current <= 0:
                continue
            carry, own = post.carry[:, mask, c][None], post.own[:, mask, c][None]  # (1, D, s, H)
            u = carry + grid[:, None, None, None] * own
            units = post.beta[None, :, mask, c, None] * saturate(u, post.half[None, :, c, None, None],
                                                                 post.slope[None, :, c, None, None], post.saturation)
            value = (units * post.price[None, None, mask]).sum(axis=(2, 3))  # (K, D)
            incr = value - value[:1]
            spend = grid * current
            mroi = np.gradient(value, spend, axis=0)
            frames.append(
                pd.DataFrame(
                    {
                        "level": kind,
                        "group": name,
                        "channel": ch,
                        "multiplier": grid,
                        "spend": spend,
                        "incremental_value": incr[:, 0],
                        "incremental_lo": np.quantile(incr[:, 1:], lo_q, axis=1),
                        "incremental_hi": np.quantile(incr[:, 1:], hi_q, axis=1),
                        "marginal_roi": mroi[:, 0],
                        "marginal_roi_lo": np.quantile(mroi[:, 1:], lo_q, axis=1),
                        "marginal_roi_hi": np.quantile(mroi[:, 1:], hi_q, axis=1),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)
