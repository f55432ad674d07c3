"""The run-invariant settings of the mmm pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.config import build_config, require
from jobs.kaggle import SOURCES
from models.mmm.model import ADSTOCKS, SATURATIONS
from models.mmm.spec import DataSpec, SpecError, from_config, with_channels, with_cpm

PIPELINE = "mmm"
EXPERIMENT = "mmm"
MODEL_NAME = "mmm"


@dataclass(frozen=True)
class MmmConfig:
    """Every knob of one mmm run (profile values overridden by DAG Params).

    Attributes:
        source: ``auto`` (kaggle when credentials exist, else synthetic), ``kaggle``
            (``kaggle_dataset`` / ``kaggle_file`` with the official client), ``local``
            (``local_path``, a CSV the data spec describes) or ``synthetic`` (known truth, in the
            preset's layout).
        data_preset: a named data specification (models.mmm.spec.PRESETS: ``geoindia``, ``national``).
        data_spec: fields of the specification overriding the preset's (date, target, price,
            hierarchy, pooling, channels, controls, seasonality, levels, gate_level, frequency).
        seed: seeds the synthetic data, the fit and the Laplace draws.
        subset: keep only these members of hierarchy columns, e.g. {Geo: [CENTRAL, SOUTH]} (empty: all).
        digital_noise: synthetic collinearity of Instagram with Facebook (log-sd).
        cpm: cost per 1,000 volume units per channel, overriding the spec's (channels without a spend column).
        adstock: ``geometric`` (decay) or ``weibull`` (pdf over 16 lags: a delayed peak is possible).
        saturation: ``hill`` (half-point and slope) or ``logistic``.
        holdout_weeks: last weeks held out of the fit; also the reference period of plans.
        adam_steps, learning_rate: the MAP fit (Adam, then L-BFGS and Newton to the mode).
        n_draws, interval: Laplace draws and the level of every interval.
        gate_r2, gate_mape: holdout R^2 and MAPE at the spec's gate level (geoindia: brand nationally) the
            model needs to be registered.
        curve_max, curve_points: response curves from 0 to ``curve_max`` x today's spend.
        budget: optimiser budget over the reference period (0: today's total).
        channel_share: channel -> [min, max] share of the budget.
        cell_bounds: each channel x pooled-level cell (geoindia: brand x geo) within [lo, hi] x its spend today.
        channel_cell_bounds: channel -> [lo, hi] overriding ``cell_bounds``.
        frontier: budgets, as multiples of today's, of the efficiency frontier.
        scenarios: what-if plans: name -> rows {channel, <level>?, spend | scale} (empty: a few derived from the
            fitted data's channels and levels).
    """

    profile: str
    source: str
    local_path: str
    kaggle_dataset: str
    kaggle_file: str
    data_preset: str
    data_spec: Mapping[str, Any]
    seed: int
    subset: Mapping[str, tuple[str, ...]]
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
        try:
            spec = from_config(self.data_preset, self.data_spec)
            spec.check()
        except SpecError as exc:
            raise ValueError(f"MmmConfig: {exc}") from None
        named = {**self.channel_share, **self.channel_cell_bounds}
        channels = spec.names
        checks = [
            (self.source in SOURCES, f"source must be one of {SOURCES}, got {self.source!r}"),
            (self.source != "local" or bool(self.local_path), "source=local needs local_path"),
            (all(v > 0 for v in self.cpm.values()), f"cpm values are positive costs per thousand, got {self.cpm}"),
            (not channels or all(ch in channels for ch in [*named, *self.cpm]),
             f"unknown channel(s) {sorted(set([*named, *self.cpm]) - set(channels))} in cpm / channel_share / "
             f"channel_cell_bounds; channels: {channels}"),
            (set(self.subset) <= set(spec.hierarchy), f"subset names column(s) "
                                                      f"{sorted(set(self.subset) - set(spec.hierarchy))} that are "
                                                      f"not hierarchy levels {list(spec.hierarchy)}"),
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

    @property
    def geoindia_layout(self) -> bool:
        """The geoindia file as it comes: its reviewed GX suite and its own synthetic generator apply."""
        return self.data_preset == "geoindia" and not self.data_spec

    def spec(self, columns: list[str] | None = None) -> DataSpec:
        """The data specification of this run: the preset with ``data_spec`` and ``cpm`` applied, channels found in
        ``columns`` (the file's) when the preset leaves them to the data."""
        spec = from_config(self.data_preset, self.data_spec)
        if columns is not None:
            spec = with_channels(spec, columns)
        return with_cpm(spec, self.cpm) if spec.channels else spec


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> MmmConfig:
    """Config for ``profile`` with ``overrides`` (None values mean 'profile default')."""
    return build_config(MmmConfig, PIPELINE, profile, overrides)
