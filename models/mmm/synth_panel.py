"""Synthetic panel data in the columns of any data specification, with its ground truth.

The geoindia preset has its own generator (:mod:`models.mmm.synth`, the real file's 28
columns); this one writes what a :class:`~models.mmm.spec.DataSpec` reads: the date, the
hierarchy (``members`` per level, every combination a series), each channel's volume and /
or spend, the controls and the target (units with a price, or value). Media act through
geometric adstock and Hill saturation with effects pooled across the spec's levels, as the
model assumes. With ``confounding`` > 0 the first control moves with the first channel's
flighting and drives sales itself: leaving it out of the model biases that channel's ROI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.mmm.spec import FREQUENCIES, PERIODS_PER_YEAR, DataSpec
from models.mmm.transforms import adstock, fourier, geometric_weights, hill


@dataclass
class PanelTruth:
    """What generated the data: per-row contributions per channel (units) and the true ROI per channel."""

    contributions: pd.DataFrame  # week, hierarchy columns, one column per channel
    roi: pd.DataFrame            # channel, contribution_value, spend, roi


def generate_panel(spec: DataSpec, periods: int = 156, members: int = 3, seed: int = 0, noise: float = 0.04,
                   confounding: float = 0.0, start: str = "2022-07-04") -> tuple[pd.DataFrame, PanelTruth]:
    """Rows in ``spec``'s columns (``week`` holds the date, parsed) and their truth."""
    rng = np.random.default_rng(seed)
    hier = list(spec.hierarchy)
    grids = np.meshgrid(*[np.arange(members)] * len(hier), indexing="ij") if hier else []
    idx = {col: g.ravel() for col, g in zip(hier, grids)}
    S, W = members ** len(hier), periods
    t = np.arange(W) / PERIODS_PER_YEAR[spec.frequency]
    driver = rng.standard_normal(W).cumsum() * 0.08  # a slow common driver: the confounder's and channel 0's
    driver -= driver.mean()
    size = rng.uniform(0.5, 1.5, (S, 1))
    volume, spend, contrib = {}, {}, {}
    for c, ch in enumerate(spec.channels):
        on = rng.random((S, W)) < 0.75
        flight = np.exp(0.3 * rng.standard_normal((S, W)) + (confounding * 4 * driver[None, :] if c == 0 else 0))
        vol = 1e5 * (1 + c) * size * on * flight * (1 + 0.1 * t)[None, :]
        cpm = ch.cpm if ch.cpm > 0 else float(rng.uniform(1.0, 4.0))
        volume[ch.name], spend[ch.name] = vol, vol / 1000 * cpm
        media = vol if ch.volume else spend[ch.name]
        ad = adstock(media, geometric_weights(float(rng.uniform(0.2, 0.6))))
        log_beta = np.full(S, np.log(rng.uniform(15, 50)))
        for col in spec.pooled:
            log_beta = log_beta + 0.2 * rng.standard_normal(members)[idx[col]]
        contrib[ch.name] = np.exp(log_beta)[:, None] * hill(ad, float(np.median(ad[ad > 0])), 1.2)
    controls = {}
    log_base = np.log(rng.uniform(200, 400, (S, 1))) + (fourier(W, 1, PERIODS_PER_YEAR[spec.frequency])
                                                          @ np.array([0.1, 0.05]))[None, :]
    for k, ctl in enumerate(spec.controls):
        series = np.exp(0.1 * rng.standard_normal((S, W)) + (4 * confounding * driver[None, :] if k == 0 else 0))
        controls[ctl.column] = 10 * series
        if ctl.over:
            controls[ctl.over] = 10 * np.ones((S, W))
        log_base = log_base + (0.5 if k == 0 and confounding > 0 else 0.1) * np.log(series)
    units_mean = np.exp(log_base) + sum(contrib.values())
    units = units_mean * np.exp(noise * rng.standard_normal((S, W)))
    price = 50 * np.exp(0.05 * rng.standard_normal((S, W)))  # a value target is units x this price
    weeks = pd.date_range(start, periods=W, freq=f"{FREQUENCIES[spec.frequency]}D")

    def flat(a: np.ndarray) -> np.ndarray:  # (series, periods) -> rows, series-major
        return np.broadcast_to(a, (S, W)).ravel()

    keys = {col: np.repeat(np.array([f"{col}_{i}" for i in range(members)])[idx[col]], W) for col in hier}
    data = pd.DataFrame({"week": np.tile(weeks, S), **keys})
    data[spec.target] = flat(units if spec.price else units * price)
    if spec.price:
        data[spec.price] = flat(price)
    for ch in spec.channels:
        if ch.volume:
            data[ch.volume] = flat(volume[ch.name])
        if ch.spend:
            data[ch.spend] = flat(spend[ch.name])
    for col, arr in controls.items():
        data[col] = flat(arr)
    # Contributions in the target's own terms: units with a price column, value without one.
    truth = data[["week", *hier]].assign(**{ch: flat(v if spec.price else v * price) for ch, v in contrib.items()})
    value = {ch: float((v * price).sum()) for ch, v in contrib.items()}
    total = {ch: float(v.sum()) for ch, v in spend.items()}
    roi = pd.DataFrame({"channel": list(value), "contribution_value": list(value.values()),
                        "spend": [total[c] for c in value], "roi": [value[c] / total[c] for c in value]})
    return data, PanelTruth(truth, roi)
