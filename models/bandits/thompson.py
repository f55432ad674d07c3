"""Thompson sampling over Beta posteriors: the core that budget allocation and banner selection share.

Each arm has a Beta(alpha, beta) posterior on its success rate. Shares come from many joint
posterior draws: by default the share of draws in which an arm is best (probability
matching), or the draws' mean normalised values. A value scale (e.g. clicks per unit of
spend) turns rates into value per unit before comparing.
"""

from __future__ import annotations

import numpy as np

MODES = ("best", "proportional")


def thompson_shares(
    alpha: np.ndarray,
    beta: np.ndarray,
    n_draws: int,
    rng: np.random.Generator,
    value_scale: np.ndarray | None = None,
    mode: str = "best",
    chunk: int = 2000,
) -> np.ndarray:
    """Budget shares from ``n_draws`` joint draws of the segments' Beta posteriors.

    Args:
        alpha, beta: posterior parameters, shape (n_segments,), all > 0.
        n_draws: number of joint draws (memory is bounded by ``chunk`` draws at a time).
        rng: the seeded generator.
        value_scale: optional multiplier per segment applied to the sampled rates.
        mode: ``best`` (share of draws in which each segment is best) or ``proportional``
            (mean of the sampled values normalised to sum to 1 per draw).
    Returns:
        shares, shape (n_segments,), non-negative, summing to 1.
    """
    alpha, beta = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    if alpha.shape != beta.shape or alpha.ndim != 1 or alpha.size == 0:
        raise ValueError(f"alpha and beta must be equal-length 1-d arrays, got {alpha.shape} and {beta.shape}")
    if not (np.all(alpha > 0) and np.all(beta > 0)):
        raise ValueError("alpha and beta must be > 0 (Beta posterior parameters)")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    scale = np.ones_like(alpha) if value_scale is None else np.asarray(value_scale, dtype=np.float64)
    if scale.shape != alpha.shape or np.any(scale < 0):
        raise ValueError("value_scale must be non-negative with one value per segment")
    acc = np.zeros(alpha.size)
    done = 0
    while done < n_draws:
        m = min(chunk, n_draws - done)
        values = rng.beta(alpha, beta, size=(m, alpha.size)) * scale
        if mode == "best":
            acc += np.bincount(np.argmax(values, axis=1), minlength=alpha.size)
        else:
            acc += (values / values.sum(axis=1, keepdims=True)).sum(axis=0)
        done += m
    return acc / acc.sum()
