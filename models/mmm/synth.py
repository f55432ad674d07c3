"""Synthetic weekly MMM data in the exact schema and shape of "mmm-weekly-data-geoindia", with ground truth.

156 weeks from 2022-07-04 x 8 geos x 3 brands x 3 SKUs = 11,232 rows,
28 columns in the real file's order. Sales units are

    baseline x price effect x promotion lift + sum over channels of media contribution + noise

- baseline: a SKU level x weighted distribution x (trade spend)^0.35 x Fourier
  seasonality x festival lift x macro (CPI) drag; distribution and trade spend grow over
  the three years, so sales grow about 4-5x, as in the real data;
- price: (Net_Price / MRP)^-elasticity with temporary price reductions (TPR), plus feature
  and display lifts;
- media: per channel, geometric adstock (channel decay) then Hill saturation (half-point
  near the channel's median adstocked level), times a coefficient drawn from a hierarchy
  (national effect x brand deviation x geo deviation, log-normal);
- Instagram impressions follow Facebook's within each SKU with a few per cent of noise
  (``digital_noise``): two near-collinear digital channels, as in the real data (where
  YouTube is reported to move with them too; here it is flighted on its own).

Ground truth, kept apart from the data: the parameters, each row's contribution per
channel, the true ROI per channel (sales value bought per unit of spend, with spend =
impressions / 1000 x a cost per thousand per channel) and the true national response
curve per channel (0-3x its impressions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.mmm.schema import CHANNELS, COLUMNS, MEDIA
from models.mmm.transforms import adstock, fourier, geometric_weights, hill

GEOS = ["CENTRAL", "EAST", "METRO_DELHI", "METRO_MUMBAI", "NORTH", "NORTHEAST", "SOUTH", "WEST"]
BRANDS = ["BrandA", "BrandB", "BrandC"]
DECAY = {"TV": 0.6, "YouTube": 0.3, "Facebook": 0.2, "Instagram": 0.2, "Print": 0.4, "Radio": 0.3}
SLOPE = {"TV": 1.5, "YouTube": 1.2, "Facebook": 1.0, "Instagram": 1.0, "Print": 1.3, "Radio": 1.2}
BETA = {
    "TV": 60.0,
    "YouTube": 25.0,
    "Facebook": 18.0,
    "Instagram": 10.0,
    "Print": 8.0,
    "Radio": 12.0,
}  # units/week at saturation
BASE_IMPRESSIONS = {"TV": 1.0e6, "YouTube": 5.0e5, "Facebook": 4.5e5, "Print": 8.0e4, "Radio": 1.0e6}
CPM = {"TV": 3.0, "YouTube": 2.0, "Facebook": 1.5, "Instagram": 1.5, "Print": 4.0, "Radio": 1.0}  # currency per 1,000


@dataclass(frozen=True)
class MmmSpec:
    """Shape and randomness of a synthetic MMM data set."""

    weeks: int = 156
    start: str = "2022-07-04"
    seed: int = 42
    elasticity: float = 1.5
    noise: float = 0.05
    digital_noise: float = 0.05  # log-sd of Instagram / Facebook impressions within a SKU-week
    brand_sd: float = 0.25
    geo_sd: float = 0.2
    cpm: dict[str, float] = field(default_factory=lambda: dict(CPM))


@dataclass
class MmmTruth:
    """What generated the data: parameters, per-row contributions (units) per channel, ROI per channel."""

    params: dict
    contributions: pd.DataFrame
    roi: pd.DataFrame
    curves: pd.DataFrame  # channel, multiplier, spend, incremental units and value over all weeks (national)


def _series_keys() -> pd.DataFrame:
    return pd.DataFrame([(g, b, f"{b}_SKU{k}") for g in GEOS for b in BRANDS for k in (1, 2, 3)],
                        columns=["Geo", "Brand", "SKU"])


def generate(spec: MmmSpec) -> tuple[pd.DataFrame, MmmTruth]:
    """The data (in the real file's columns, with ``week`` for ``Date``) and its truth."""
    rng = np.random.default_rng(spec.seed)
    keys = _series_keys()
    S, W, G = len(keys), spec.weeks, len(GEOS)
    geo_idx = keys["Geo"].map({g: i for i, g in enumerate(GEOS)}).to_numpy()
    brand_idx = keys["Brand"].map({b: i for i, b in enumerate(BRANDS)}).to_numpy()
    t = np.arange(W) / 52.0
    # Geo-week drivers (the same for every SKU of a geo in a week).
    dist = np.clip(
        0.15 + 0.22 * t[None, :] * rng.uniform(0.8, 1.2, (G, 1)) + 0.01 * rng.standard_normal((G, W)), 0.05, 0.95
    )
    trade = 8000 * np.exp(0.35 * t[None, :]) * rng.uniform(0.7, 1.3, (G, 1)) * np.exp(0.1 * rng.standard_normal((G, W)))
    cpi = 120 * np.exp(0.05 * t)[None, :] * np.ones((G, 1))
    gdp = 5 + 0.8 * np.sin(2 * np.pi * t / 3)[None, :] + 0.1 * rng.standard_normal((G, W))
    festival = 1 + 0.6 * np.exp(-0.5 * ((np.arange(W) % 52 - 16) / 2.0) ** 2)[None, :] * np.ones((G, 1))
    rain = np.clip(
        5 + 4 * np.sin(2 * np.pi * (np.arange(W) - 4) / 52.18)[None, :] + rng.standard_normal((G, W)), 0, None
    )
    season = fourier(W, 2) @ np.array([0.12, 0.04, 0.06, -0.03])
    # Prices and promotions per series-week.
    mrp = rng.uniform(80, 130, (S, 1)) * np.exp(0.04 * t)[None, :]
    tpr = (rng.random((S, W)) < 0.12).astype(float)
    net = mrp * (1 - tpr * rng.uniform(0.08, 0.2, (S, W)))
    feature = (rng.random((S, W)) < 0.08).astype(float)
    display = (rng.random((S, W)) < 0.1).astype(float)
    # Media impressions: flighted bursts; Instagram moves with Facebook within a SKU.
    size = rng.uniform(0.4, 1.6, (S, 1))
    media = {}
    for ch in BASE_IMPRESSIONS:
        on = rng.random((S, W)) < 0.7
        media[ch] = (
            BASE_IMPRESSIONS[ch] * size * on * np.exp(0.3 * rng.standard_normal((S, W))) * (1 + 0.15 * t)[None, :]
        )
    media["Instagram"] = 0.33 * media["Facebook"] * np.exp(spec.digital_noise * rng.standard_normal((S, W)))
    # Hierarchical media effects: national x brand x geo.
    z_b, z_g = rng.standard_normal((len(BRANDS), len(CHANNELS))), rng.standard_normal((G, len(CHANNELS)))
    contrib = {}
    halves = {}
    curve_parts = {}
    for c, ch in enumerate(CHANNELS):
        ad = adstock(media[ch], geometric_weights(DECAY[ch]))
        halves[ch] = float(np.median(ad[ad > 0]))
        coef = BETA[ch] * np.exp(
            spec.brand_sd * z_b[brand_idx, c] + spec.geo_sd * z_g[geo_idx, c] - (spec.brand_sd**2 + spec.geo_sd**2) / 2
        )
        contrib[ch] = coef[:, None] * hill(ad, halves[ch], SLOPE[ch])
        curve_parts[ch] = (coef, ad)
    level = rng.uniform(150, 300, (S, 1))
    baseline = (level * (dist[geo_idx] / 0.3) * (trade[geo_idx] / 8000) ** 0.35 * np.exp(season)[None, :]
                * festival[geo_idx] * (cpi[geo_idx] / 120) ** -0.3)
    price_effect = (net / mrp) ** -spec.elasticity * (1 + 0.15 * feature + 0.1 * display)
    media_total = sum(contrib.values())
    mean_units = baseline * price_effect + media_total
    units = np.maximum(mean_units * (1 + spec.noise * rng.standard_normal((S, W))), 0.0)
    weeks = pd.date_range(spec.start, periods=W, freq="7D")

    def flat(a: np.ndarray) -> np.ndarray:  # (series, weeks) -> rows ordered week-major like the real file
        return a.T.ravel()

    def geo_flat(a: np.ndarray) -> np.ndarray:
        return flat(a[geo_idx])

    data = pd.DataFrame({
        "week": np.repeat(weeks, S), "Geo": np.tile(keys["Geo"], W), "Brand": np.tile(keys["Brand"], W),
        "SKU": np.tile(keys["SKU"], W), "Sales_Units": flat(units), "Sales_Value": flat(units * net),
        "MRP": flat(mrp), "Net_Price": flat(net), "Feature_Flag": flat(feature), "Display_Flag": flat(display),
        "TPR_Flag": flat(tpr), "Trade_Spend": geo_flat(trade),
        **{col: flat(media[ch]) for col, ch in zip(MEDIA, CHANNELS)},
        "FB_Banner_Content_Score": geo_flat(np.clip(75 + 3 * rng.standard_normal((G, W)), 50, 100)),
        "IG_Banner_Content_Score": geo_flat(np.clip(78 + 3 * rng.standard_normal((G, W)), 50, 100)),
        "Weighted_Distribution": geo_flat(dist), "Numeric_Distribution": geo_flat(np.clip(dist * 1.2, 0, 1)),
        "TDP": geo_flat(dist * 110), "NOS": geo_flat(2 + dist * 4), "CPI": geo_flat(cpi), "GDP_Growth": geo_flat(gdp),
        "Festival_Index": geo_flat(festival), "Rainfall_Index": geo_flat(rain),
    })[COLUMNS]
    contributions = data[["week", "Geo", "Brand", "SKU"]].assign(
        baseline=flat(baseline * price_effect), **{ch: flat(contrib[ch]) for ch in CHANNELS})
    value = {ch: float((contrib[ch] * net).sum()) for ch in CHANNELS}
    spend = {ch: float(media[ch].sum() / 1000 * spec.cpm[ch]) for ch in CHANNELS}
    roi = pd.DataFrame({"channel": CHANNELS, "contribution_units": [float(contrib[ch].sum()) for ch in CHANNELS],
                        "contribution_value": [value[ch] for ch in CHANNELS], "spend": [spend[ch] for ch in CHANNELS],
                        "roi": [value[ch] / spend[ch] for ch in CHANNELS]})
    grid = np.linspace(0.0, 3.0, 13)
    curves = pd.DataFrame([  # adstock is linear: scaling a channel's impressions by m scales its adstock by m
        {"channel": ch, "multiplier": m, "spend": m * spend[ch],
         "incremental_units": float((coef[:, None] * hill(m * ad, halves[ch], SLOPE[ch])).sum()),
         "incremental_value": float((coef[:, None] * hill(m * ad, halves[ch], SLOPE[ch]) * net).sum())}
        for ch, (coef, ad) in curve_parts.items() for m in grid])
    params = {"decay": DECAY, "slope": SLOPE, "half": halves, "beta_national": BETA, "cpm": spec.cpm,
              "elasticity": spec.elasticity, "brand_sd": spec.brand_sd, "geo_sd": spec.geo_sd,
              "brand_dev": {b: dict(zip(CHANNELS, z_b[i].round(4).tolist())) for i, b in enumerate(BRANDS)},
              "geo_dev": {g: dict(zip(CHANNELS, z_g[i].round(4).tolist())) for i, g in enumerate(GEOS)}}
    return data, MmmTruth(params, contributions, roi, curves)


def to_kaggle_layout(data: pd.DataFrame) -> pd.DataFrame:
    """The real file's layout: ``Date`` as M/D/YYYY in place of ``week``."""
    out = data.rename(columns={"week": "Date"})
    out["Date"] = out["Date"].dt.strftime("%-m/%-d/%Y")
    return out
