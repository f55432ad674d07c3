"""Synthetic banner logs with known click rates, where every OPE estimate can be checked.

True CTR of creative a in slot position x: ``position_ctr[x] * attractiveness[a]``
(attractiveness log-normal, mean 1). Logs come from a uniform-random logger or from any
known stochastic policy; the true value of a policy is exact, not simulated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.bandits.ope import BanditLog


@dataclass(frozen=True)
class BannerWorld:
    """True click rates, shape (positions, creatives)."""

    ctr: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.ctr.shape[0]), int(self.ctr.shape[1])

    def value(self, pi: np.ndarray, position_weights: np.ndarray | None = None) -> float:
        """Expected CTR of policy ``pi`` (positions x creatives) with positions drawn by ``position_weights``."""
        w = np.full(self.shape[0], 1.0 / self.shape[0]) if position_weights is None else position_weights
        return float(w @ (pi * self.ctr).sum(axis=1))


def make_banner_world(n_positions: int, n_creatives: int, seed: int, base_ctr: float = 0.01,
                      spread: float = 0.6) -> BannerWorld:
    """Positions lose 25% of clicks per rank; creatives differ by a log-normal factor."""
    rng = np.random.default_rng(seed)
    pos = base_ctr * 0.75 ** np.arange(n_positions)
    attract = np.exp(spread * rng.standard_normal(n_creatives) - spread ** 2 / 2)
    return BannerWorld(np.clip(np.outer(pos, attract), 0.0, 1.0))


def log_policy(world: BannerWorld, pi: np.ndarray, n: int, seed: int) -> BanditLog:
    """``n`` rows logged by policy ``pi``: uniform positions, actions from pi, Bernoulli clicks."""
    rng = np.random.default_rng(seed)
    n_pos, n_cr = world.shape
    ctx = rng.integers(0, n_pos, size=n)
    act = (rng.random(n)[:, None] > np.cumsum(pi, axis=1)[ctx]).sum(axis=1).clip(max=n_cr - 1)
    reward = (rng.random(n) < world.ctr[ctx, act]).astype(float)
    return BanditLog(ctx, act, reward, pi[ctx, act], n_pos, n_cr)


def uniform_policy(n_positions: int, n_creatives: int) -> np.ndarray:
    return np.full((n_positions, n_creatives), 1.0 / n_creatives)


def softmax_policy(world: BannerWorld, temperature: float, seed: int, noise: float = 0.3) -> np.ndarray:
    """A 'production' policy that prefers creatives with a noisy view of their true CTR."""
    rng = np.random.default_rng(seed)
    score = np.log(world.ctr) + noise * rng.standard_normal(world.ctr.shape)
    z = np.exp((score - score.max(axis=1, keepdims=True)) / temperature)
    return z / z.sum(axis=1, keepdims=True)
