"""Media transforms of the marketing mix model: adstock, saturation, seasonality.

Arrays have weeks on the last axis and any leading axes (series, channels), so one call
transforms every geo x brand x SKU series at once. Adstock is a lagged weighted sum
computed as one multiply-add per lag (at most 16), never a loop over weeks.
"""

from __future__ import annotations

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


def weibull_weights(shape: np.ndarray | float, scale: np.ndarray | float, max_lag: int = MAX_LAG,
                    kind: str = "pdf", normalize: bool = True) -> np.ndarray:
    """Weibull lag weights: ``pdf`` (can peak after a delay) or ``cdf`` (survival, monotone)."""
    k, lam = np.asarray(shape, dtype=np.float64)[..., None], np.asarray(scale, dtype=np.float64)[..., None]
    if np.any(k <= 0) or np.any(lam <= 0):
        raise ValueError("Weibull shape and scale must be > 0")
    lag = np.arange(max_lag, dtype=np.float64)
    if kind == "cdf":
        w = np.exp(-((lag / lam) ** k))
    elif kind == "pdf":
        x = (lag + 1) / lam  # lag 0 has weight too; shift so the pdf is finite at k < 1
        w = (k / lam) * x ** (k - 1) * np.exp(-(x ** k))
    else:
        raise ValueError(f"kind must be pdf|cdf, got {kind!r}")
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


def logistic_saturation(x: np.ndarray, lam: np.ndarray | float) -> np.ndarray:
    """(1 - exp(-lam x)) / (1 + exp(-lam x)), in [0, 1)."""
    e = np.exp(-np.asarray(lam, dtype=np.float64) * np.maximum(np.asarray(x, dtype=np.float64), 0.0))
    return (1 - e) / (1 + e)


def fourier(n_weeks: int, order: int, period: float = WEEKS_PER_YEAR, start: int = 0) -> np.ndarray:
    """Seasonality basis, shape (n_weeks, 2 * order): sin and cos of 2 pi k t / period."""
    t = np.arange(start, start + n_weeks, dtype=np.float64)[:, None]
    k = np.arange(1, order + 1, dtype=np.float64)[None, :]
    angle = 2 * np.pi * k * t / period
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)
