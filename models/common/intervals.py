"""Intervals over seeds: a t-interval for means and paired differences, and one for ratios that stays in range.

A metric is undefined on some seeds (an advertiser that spent nothing has no ROAS): non-finite
values are dropped first, so the interval is over the seeds that define it. With no defined
seed every bound is NaN; with one, the mean is that value and the bounds are NaN, because one
seed says nothing about the spread.

A ratio (ROAS, CTR, CVR, CPC, CAC, win rate) is not averaged over seeds: a seed with a tiny
denominator makes the mean of per-seed ratios, and its t-interval, meaningless (an ROAS of
18.7 with an interval of [-58, 95]). :func:`ratio_interval` takes the ratio of the sums and a
delta-method t-interval on the log scale (the logit scale for a rate), so the bounds stay
inside the quantity's range: positive for a ratio, within [0, 1] for a rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def t_half_width(std: np.ndarray | float, n: np.ndarray | int, level: float = 0.95) -> np.ndarray:
    """Half-width of the t-interval of a mean from sample standard deviations and counts (NaN where n < 2)."""
    from scipy.stats import t as t_dist

    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = t_dist.ppf(0.5 + level / 2, np.where(n > 1, n - 1, np.nan)) * np.asarray(std, dtype=float) / np.sqrt(n)
    return np.where(n > 1, half, np.nan)


def t_interval(values: pd.Series | np.ndarray, level: float = 0.95) -> pd.Series:
    """``mean``, ``lo`` and ``hi`` of the finite values: their mean and t-interval at ``level``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return pd.Series({"mean": np.nan, "lo": np.nan, "hi": np.nan})
    mean = float(v.mean())
    half = float(t_half_width(v.std(ddof=1) if len(v) > 1 else np.nan, len(v), level))
    return pd.Series({"mean": mean, "lo": mean - half, "hi": mean + half})


# A ratio metric -> (numerator, denominator); rates are in [0, 1].
RATIOS = {"roas": ("revenue", "spend"), "ctr": ("clicks", "impressions"), "cvr": ("conversions", "clicks"),
          "cpc": ("spend", "clicks"), "cac": ("spend", "conversions"), "win_rate": ("wins", "bids")}
RATES = frozenset({"ctr", "cvr", "win_rate"})


def ratio_interval(num: pd.Series | np.ndarray, den: pd.Series | np.ndarray, level: float = 0.95,
                   rate: bool = False) -> pd.Series:
    """``mean`` (sum(num) / sum(den) over the seeds), ``lo``, ``hi``, ``n`` (seeds used) and ``undefined`` (seeds
    left out: a zero or non-finite denominator, or a non-finite numerator).

    The interval is the delta method's (each seed's influence (num - R den) / mean(den)) with a t quantile, taken
    on the log scale, or the logit scale for a ``rate``, and mapped back: it never leaves the quantity's range. A
    ratio of 0 (or a rate of 1) sits on the scale's edge: its bounds are NaN rather than a guess.
    """
    from scipy.stats import t as t_dist

    x, y = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    x, y = x[ok], y[ok]
    n, undefined = int(ok.sum()), int((~ok).sum())
    if n == 0:
        return pd.Series({"mean": np.nan, "lo": np.nan, "hi": np.nan, "n": 0, "undefined": undefined})
    r = float(x.sum() / y.sum())
    lo = hi = np.nan
    if n > 1 and r > 0 and not (rate and r >= 1):
        se = float(((x - r * y) / y.mean()).std(ddof=1) / np.sqrt(n))
        tq = float(t_dist.ppf(0.5 + level / 2, n - 1))
        if rate:
            centre, scale = np.log(r / (1 - r)), se / (r * (1 - r))
            lo, hi = (float(1 / (1 + np.exp(-(centre + k * tq * scale)))) for k in (-1, 1))
        else:
            lo, hi = (float(r * np.exp(k * tq * se / r)) for k in (-1, 1))
    return pd.Series({"mean": r, "lo": lo, "hi": hi, "n": n, "undefined": undefined})
