"""Reference implementations the MMM tests check the torch model against (plain numpy, written for clarity)."""

from __future__ import annotations

import numpy as np

from models.mmm.transforms import MAX_LAG


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
