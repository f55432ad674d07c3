"""A synthetic advertising market of customer segments whose true rates drift slowly.

Ground truth for the budget_bandits pipeline: every segment has a true conversion rate
per click (CVR) and a true cost per click (CPC) on every day; both follow random walks
(on the logit and log scales), so yesterday's winner can fade. Spending ``b`` on a
segment on day ``t`` buys Poisson(b / CPC) clicks, each converting with probability CVR.
The value of a unit of budget is CVR / CPC (expected conversions per currency unit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SegmentWorld:
    """True daily rates, shape (n_days, n_segments), and the segments' keys."""

    keys: np.ndarray
    cvr: np.ndarray
    cpc: np.ndarray
    start: pd.Timestamp

    @property
    def n_days(self) -> int:
        return int(self.cvr.shape[0])

    @property
    def n_segments(self) -> int:
        return int(self.cvr.shape[1])

    def value(self, day: int) -> np.ndarray:
        """Expected conversions per unit of budget on ``day``."""
        return self.cvr[day] / self.cpc[day]

    def dates(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=self.n_days, freq="D")

    def truth_frame(self) -> pd.DataFrame:
        """One row per (day, segment): true CVR, CPC and conversions per unit of budget."""
        days = np.repeat(self.dates().date, self.n_segments)
        return pd.DataFrame({
            "day": days,
            "segment_key": np.tile(self.keys, self.n_days),
            "true_cvr": self.cvr.ravel(),
            "true_cpc": self.cpc.ravel(),
            "true_conv_per_unit": (self.cvr / self.cpc).ravel(),
        })


def segment_keys(n: int) -> np.ndarray:
    """Readable keys such as ``mobile|retargeting|de|s007``: channel, audience, market, id."""
    channels = np.array(["mobile", "desktop", "app"])
    audiences = np.array(["prospecting", "retargeting", "lookalike", "loyal"])
    markets = np.array(["de", "fr", "uk", "us", "es"])
    i = np.arange(n)
    return np.char.add(
        np.char.add(np.char.add(channels[i % 3], "|"), np.char.add(audiences[(i // 3) % 4], "|")),
        np.char.add(np.char.add(markets[(i // 12) % 5], "|s"), np.char.zfill(i.astype(str), 3)),
    ).astype(object)


def make_world(n_segments: int, n_days: int, seed: int, cvr_mean: float = 0.03, cvr_spread: float = 0.6,
               cpc_mean: float = 0.8, cpc_spread: float = 0.35, cvr_drift: float = 0.03, cpc_drift: float = 0.01,
               start: str = "2026-01-01") -> SegmentWorld:
    """Draw a world: base rates per segment, then daily random-walk drift.

    ``cvr_spread`` and ``cpc_spread`` are standard deviations on the logit and log
    scales across segments; ``cvr_drift`` and ``cpc_drift`` are daily step sizes.
    """
    if n_segments < 2 or n_days < 1:
        raise ValueError(f"need >= 2 segments and >= 1 day, got {n_segments} and {n_days}")
    rng = np.random.default_rng(seed)
    logit0 = np.log(cvr_mean / (1 - cvr_mean)) + cvr_spread * rng.standard_normal(n_segments)
    log_cpc0 = np.log(cpc_mean) + cpc_spread * rng.standard_normal(n_segments)
    return drifting_world(segment_keys(n_segments), logit0, log_cpc0, n_days, rng, cvr_drift, cpc_drift, start)


def drifting_world(keys: np.ndarray, logit0: np.ndarray, log_cpc0: np.ndarray, n_days: int, rng: np.random.Generator,
                   cvr_drift: float, cpc_drift: float, start: str) -> SegmentWorld:
    """Day-0 logit(CVR) and log(CPC), then daily random walks of ``cvr_drift`` and ``cpc_drift``."""
    steps = rng.standard_normal((2, n_days, len(keys)))
    steps[:, 0] = 0.0
    logit = logit0 + cvr_drift * np.cumsum(steps[0], axis=0)
    log_cpc = log_cpc0 + cpc_drift * np.cumsum(steps[1], axis=0)
    return SegmentWorld(keys, 1 / (1 + np.exp(-logit)), np.exp(log_cpc), pd.Timestamp(start))


def outcomes(
    world: SegmentWorld, day: int, spend: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Clicks and conversions bought by ``spend`` (one value per segment) on ``day``."""
    clicks = rng.poisson(np.asarray(spend) / world.cpc[day])
    conv = rng.binomial(clicks, world.cvr[day])
    return clicks, conv


def legacy_history(world: SegmentWorld, n_days: int, budget: float, seed: int) -> pd.DataFrame:
    """Facts logged under a legacy plan (stale Dirichlet shares that wobble day to day).

    The columns are those of the pipeline's input: day, segment_key, clicks, conv, spent.
    """
    if n_days > world.n_days:
        raise ValueError(f"history of {n_days} days is longer than the world ({world.n_days} days)")
    rng = np.random.default_rng(seed)
    base = rng.dirichlet(np.full(world.n_segments, 2.0))
    frames = []
    for day in range(n_days):  # a loop over days, each day vectorised over segments
        shares = rng.dirichlet(base * 200)
        spend = np.round(budget * shares, 2)
        clicks, conv = outcomes(world, day, spend, rng)
        frames.append(pd.DataFrame({"day": world.dates()[day].date(), "segment_key": world.keys,
                                    "clicks": clicks, "conv": conv, "spent": spend}))
    return pd.concat(frames, ignore_index=True)
