"""The run-invariant settings of the mmm pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.config import build_config, require
from jobs.kaggle import SOURCES
from models.mmm.model import ADSTOCKS, SATURATIONS
from models.mmm.schema import CHANNELS

PIPELINE = "mmm"
EXPERIMENT = "mmm"
MODEL_NAME = "mmm"


@dataclass(frozen=True)
class MmmConfig:
    """Every knob of one mmm run (profile values overridden by DAG Params).

    Attributes:
        source: ``auto`` (kaggle when credentials exist, else synthetic), ``kaggle``
            (``kaggle_dataset`` / ``kaggle_file`` with the official client), ``local``
            (``local_path``, a CSV in the geoindia schema) or ``synthetic`` (known truth).
        seed: seeds the synthetic data, the fit and the Laplace draws.
        geos: keep only these geos (empty: all).
        digital_noise: synthetic collinearity of Instagram with Facebook (log-sd).
        cpm: cost per 1,000 impressions per channel: turns impressions into spend and ROI.
        adstock: ``geometric`` (decay) or ``weibull`` (pdf over 16 lags: a delayed peak is possible).
        saturation: ``hill`` (half-point and slope) or ``logistic``.
        holdout_weeks: last weeks held out of the fit; also the reference period of plans.
        adam_steps, learning_rate: the MAP fit (Adam, then L-BFGS and Newton to the mode).
        n_draws, interval: Laplace draws and the level of every interval.
        gate_r2, gate_mape: brand-national holdout R^2 and MAPE the model needs to be registered.
        curve_max, curve_points: response curves from 0 to ``curve_max`` x today's spend.
        budget: optimiser budget over the reference period (0: today's total).
        channel_share: channel -> [min, max] share of the budget.
        cell_bounds: each channel x brand x geo cell within [lo, hi] x its spend today.
        channel_cell_bounds: channel -> [lo, hi] overriding ``cell_bounds``.
        frontier: budgets, as multiples of today's, of the efficiency frontier.
        scenarios: what-if plans: name -> rows {channel, brand?, geo?, spend | scale}.
    """

    profile: str
    source: str
    local_path: str
    kaggle_dataset: str
    kaggle_file: str
    seed: int
    geos: tuple[str, ...]
    digital_noise: float
    cpm: Mapping[str, float]
    adstock: str
    saturation: str
    holdout_weeks: int
    adam_steps: int
    learning_rate: float
    n_draws: int
    interval: float
    gate_r2: float
    gate_mape: float
    curve_max: float
    curve_points: int
    budget: float
    channel_share: Mapping[str, tuple[float, ...]]
    cell_bounds: tuple[float, ...]
    channel_cell_bounds: Mapping[str, tuple[float, ...]]
    frontier: tuple[float, ...]
    scenarios: Mapping[str, tuple[Mapping[str, Any], ...]]

    def __post_init__(self) -> None:
        named = {**self.channel_share, **self.channel_cell_bounds}
        checks = [
            (self.source in SOURCES, f"source must be one of {SOURCES}, got {self.source!r}"),
            (self.source != "local" or bool(self.local_path), "source=local needs local_path"),
            (set(self.cpm) == set(CHANNELS) and all(v > 0 for v in self.cpm.values()),
             f"cpm needs a positive cost per thousand for exactly {CHANNELS}, got {self.cpm}"),
            (all(ch in CHANNELS for ch in named), f"unknown channel(s) {sorted(set(named) - set(CHANNELS))} "
                                                  f"in channel_share / channel_cell_bounds; channels: {CHANNELS}"),
            (all(len(v) == 2 for v in [*named.values(), self.cell_bounds]), "bounds are [min, max] pairs"),
            (self.adstock in ADSTOCKS, f"adstock must be one of {ADSTOCKS}, got {self.adstock!r}"),
            (self.saturation in SATURATIONS, f"saturation must be one of {SATURATIONS}, got {self.saturation!r}"),
            (self.holdout_weeks >= 4, f"holdout_weeks must be >= 4, got {self.holdout_weeks}"),
            (self.adam_steps >= 1 and self.learning_rate > 0, "adam_steps >= 1 and learning_rate > 0"),
            (self.n_draws >= 20, f"n_draws must be >= 20 (intervals come from them), got {self.n_draws}"),
            (0.5 <= self.interval < 1, f"interval must be in [0.5, 1), got {self.interval}"),
            (self.curve_max > 0 and self.curve_points >= 3, "curve_max > 0 and curve_points >= 3"),
            (self.budget >= 0, f"budget must be >= 0 (0 = today's total), got {self.budget}"),
            (all(b > 0 for b in self.frontier), "frontier budgets are positive multiples of today's"),
            (all(isinstance(rows, (list, tuple)) and rows for rows in self.scenarios.values()),
             "each scenario is a non-empty list of plan rows"),
        ]
        require("MmmConfig", checks)


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> MmmConfig:
    """Config for ``profile`` with ``overrides`` (None values mean 'profile default')."""
    return build_config(MmmConfig, PIPELINE, profile, overrides)
