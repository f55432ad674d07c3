"""Media transforms of the marketing mix model: adstock, saturation, seasonality.

Arrays have weeks on the last axis and any leading axes (series, channels), so one call
transforms every geo x brand x SKU series at once. Adstock is a lagged weighted sum
computed as one multiply-add per lag (at most 16), never a loop over weeks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_LAG = 16
WEEKS_PER_YEAR = 365.25 / 7


def geometric_weights(decay: np.ndarray | float, max_lag: int = MAX_LAG, normalize: bool = True) -> np.ndarray:
    """Weights decay**l for l = 0..max_lag-1 (last axis), optionally summing to 1."""
    d = np.asarray(decay, dtype=np.float64)
    if np.any((d < 0) | (d >= 1)):
        raise ValueError("geometric decay must be in [0, 1)")
    w = d[..., None] ** np.arange(max_lag)
    return w / w.sum(axis=-1, keepdims=True) if normalize else w


def adstock(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """out[..., t] = sum_l weights[..., l] * x[..., t - l] (zero before the first week).

    ``weights`` broadcasts against ``x`` without its week axis (e.g. one set per channel).
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(np.broadcast_shapes(x.shape, weights.shape[:-1] + (1,)))
    n_weeks = x.shape[-1]
    for lag in range(min(weights.shape[-1], n_weeks)):  # a loop over at most 16 lags, not weeks
        out[..., lag:] += weights[..., lag, None] * x[..., : n_weeks - lag]
    return out


def hill(x: np.ndarray, half: np.ndarray | float, slope: np.ndarray | float) -> np.ndarray:
    """Hill saturation x^s / (x^s + half^s), in [0, 1); half = the level giving 0.5."""
    x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    h, s = np.asarray(half, dtype=np.float64), np.asarray(slope, dtype=np.float64)
    if np.any(h <= 0) or np.any(s <= 0):
        raise ValueError("Hill half-point and slope must be > 0")
    r = (x / h) ** s
    return r / (1 + r)


def saturate(u: Any, half: Any, slope: Any, kind: str) -> Any:
    """Saturation in [0, 1) of adstocked media ``u`` (numpy or torch): Hill, or logistic with the same
    half-point (lambda = ln 3 / half; the slope is unused)."""
    if kind == "hill":
        r = (u / half).clip(1e-12) ** slope
        return r / (1 + r)
    e = (-np.log(3.0) * u / half).exp() if hasattr(u, "exp") else np.exp(-np.log(3.0) * u / half)
    return (1 - e) / (1 + e)


def saturate_grad(u: np.ndarray, half: np.ndarray, slope: np.ndarray, kind: str) -> np.ndarray:
    """d saturate / d u (numpy), for the optimiser's gradient."""
    if kind == "hill":
        r = (np.maximum(u, 1e-12) / half) ** slope
        return slope * r / (np.maximum(u, 1e-12) * (1 + r) ** 2)
    lam = np.log(3.0) / half
    e = np.exp(-lam * u)
    return 2 * lam * e / (1 + e) ** 2


def fourier(n_weeks: int, order: int, period: float = WEEKS_PER_YEAR, start: int = 0) -> np.ndarray:
    """Seasonality basis, shape (n_weeks, 2 * order): sin and cos of 2 pi k t / period."""
    t = np.arange(start, start + n_weeks, dtype=np.float64)[:, None]
    k = np.arange(1, order + 1, dtype=np.float64)[None, :]
    angle = 2 * np.pi * k * t / period
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)
