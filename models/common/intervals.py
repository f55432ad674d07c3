"""Intervals over seeds: the one t-interval every pipeline reports.

A metric is undefined on some seeds (an advertiser that spent nothing has no ROAS): non-finite
values are dropped first, so the interval is over the seeds that define it. With no defined
seed every bound is NaN; with one, the mean is that value and the bounds are NaN, because one
seed says nothing about the spread.
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
