"""Synthetic banner logs with known click rates, where every OPE estimate can be checked.

True CTR of creative a in slot position x: ``position_ctr[x] * attractiveness[a]``
(attractiveness log-normal, mean 1). With user segments, a segment u likes creative a by a
further factor ``exp(lift[u, a])`` (the segment's taste; segments equally likely), and each
logged row carries its segment (one-hot features) and a noisy affinity score of its user for
every creative, as the Open Bandit Dataset's rows do. Logs come from a uniform-random logger
or from any known stochastic policy that chooses by position; the true value of a policy is
exact, not simulated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.bandits.ope import BanditLog


@dataclass(frozen=True)
class BannerWorld:
    """True click rates, shape (positions, creatives), averaged over segments; per segment when there are
    segments (``segment_ctr``: segments x positions x creatives, and their taste ``lift``)."""

    ctr: np.ndarray
    segment_ctr: np.ndarray | None = None
    lift: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.ctr.shape[0]), int(self.ctr.shape[1])

    def value(self, pi: np.ndarray, position_weights: np.ndarray | None = None) -> float:
        """Expected CTR of policy ``pi`` (positions x creatives) with positions drawn by ``position_weights``."""
        w = np.full(self.shape[0], 1.0 / self.shape[0]) if position_weights is None else position_weights
        return float(w @ (pi * self.ctr).sum(axis=1))


def make_banner_world(n_positions: int, n_creatives: int, seed: int, base_ctr: float = 0.01,
                      spread: float = 0.6, segments: int = 0, segment_spread: float = 1.0) -> BannerWorld:
    """Positions lose 25% of clicks per rank; creatives differ by a log-normal factor; ``segments`` > 0 adds
    user segments whose taste for each creative differs by a log-normal factor (log-sd ``segment_spread``)."""
    rng = np.random.default_rng(seed)
    pos = base_ctr * 0.75 ** np.arange(n_positions)
    attract = np.exp(spread * rng.standard_normal(n_creatives) - spread ** 2 / 2)
    ctr = np.clip(np.outer(pos, attract), 0.0, 1.0)
    if segments <= 0:
        return BannerWorld(ctr)
    lift = segment_spread * rng.standard_normal((segments, n_creatives)) - segment_spread ** 2 / 2
    per_segment = np.clip(ctr[None] * np.exp(lift)[:, None, :], 0.0, 1.0)
    return BannerWorld(per_segment.mean(axis=0), per_segment, lift)


def log_policy(world: BannerWorld, pi: np.ndarray, n: int, seed: int, affinity_noise: float = 0.5) -> BanditLog:
    """``n`` rows logged by policy ``pi``: uniform positions, actions from pi, Bernoulli clicks; with segments,
    uniform segments, their one-hot features and affinities (the segment's lift plus noise of sd
    ``affinity_noise``)."""
    rng = np.random.default_rng(seed)
    n_pos, n_cr = world.shape
    ctx = rng.integers(0, n_pos, size=n)
    act = (rng.random(n)[:, None] > np.cumsum(pi, axis=1)[ctx]).sum(axis=1).clip(max=n_cr - 1)
    u = rng.random(n)
    if world.segment_ctr is None:
        return BanditLog(ctx, act, (u < world.ctr[ctx, act]).astype(float), pi[ctx, act], n_pos, n_cr)
    n_seg = len(world.segment_ctr)
    seg = rng.integers(0, n_seg, size=n)
    reward = (u < world.segment_ctr[seg, ctx, act]).astype(float)
    affinity = world.lift[seg] + affinity_noise * rng.standard_normal((n, n_cr))
    return BanditLog(ctx, act, reward, pi[ctx, act], n_pos, n_cr, np.eye(n_seg)[seg], affinity)


def uniform_policy(n_positions: int, n_creatives: int) -> np.ndarray:
    return np.full((n_positions, n_creatives), 1.0 / n_creatives)


def softmax_policy(world: BannerWorld, temperature: float, seed: int, noise: float = 0.3) -> np.ndarray:
    """A 'production' policy that prefers creatives with a noisy view of their true CTR."""
    rng = np.random.default_rng(seed)
    score = np.log(world.ctr) + noise * rng.standard_normal(world.ctr.shape)
    z = np.exp((score - score.max(axis=1, keepdims=True)) / temperature)
    return z / z.sum(axis=1, keepdims=True)
