"""The run-invariant settings of the market_nightly pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.config import build_config, require
from models.market.pricing_env import PricingEnvConfig

PIPELINE = "market_nightly"
EXPERIMENT = "market_nightly"
CTR_ESTIMATES = ("champion", "noisy_oracle", "none")
PRICING_KNOBS = set(PricingEnvConfig.__dataclass_fields__) - {"steps"}
HEADLINES = ("market_roas", "market_revenue", "market_ctr", "pricing_best_revenue")


@dataclass(frozen=True)
class NightlyConfig:
    """Every knob of one nightly evaluation (profile values overridden by DAG Params).

    Attributes:
        seed, seeds: base seed and number of simulation seeds per scenario.
        customers, steps, arrival_rate, pool_size, ctr_noise: the auction market.
        world_seed: the synthetic Avazu world of the inventory: avazu_ctr's ``seed``, so the
            CTR champion trained on that world knows its sites, apps and ads.
        advertisers: the scripted advertisers (empty: all of market_advertisers.yaml).
        auction_scenarios: name -> advertisers competing (empty: ``advertisers``).
        ctr_estimates: pCTR sources compared for the focal advertiser: ``champion``
            (ctr_lightgbm@champion), ``noisy_oracle`` (the truth with noise), ``none`` (one
            average CTR for all impressions: no model).
        ctr_focal: the advertiser whose pCTR source varies ("us"); rival_ctr: the rivals' source
            (``champion`` falls back to the noisy oracle, with a log line, when there is none).
        tie_break: ``random`` (a seeded draw per auction) or ``id`` (the lowest advertiser id wins).
        pricing_steps, pricing_seeds, pricing_scenarios: the dynamic-pricing comparison.
        gate_fail_on: headline metrics whose drop below the previous night's interval fails the run.
    """

    profile: str
    seed: int
    seeds: int
    customers: int
    steps: int
    arrival_rate: float
    pool_size: int
    world_seed: int
    ctr_noise: float
    advertisers: tuple[str, ...]
    auction_scenarios: Mapping[str, tuple[str, ...]]
    ctr_estimates: tuple[str, ...]
    ctr_focal: str
    rival_ctr: str
    tie_break: str
    pricing_steps: int
    pricing_seeds: int
    pricing_scenarios: Mapping[str, Mapping[str, Any]]
    gate_fail_on: tuple[str, ...]

    def __post_init__(self) -> None:
        require(
            "NightlyConfig",
            [
                (
                    self.seeds >= 2 and self.pricing_seeds >= 2,
                    "seeds and pricing_seeds must be >= 2 (intervals are over seeds)",
                ),
                (self.customers >= 10 and self.steps >= 24, "customers >= 10 and steps >= 24 (a day)"),
                (0 < self.arrival_rate <= 1, f"arrival_rate must be in (0, 1], got {self.arrival_rate}"),
                (self.pool_size >= 100, f"pool_size must be >= 100, got {self.pool_size}"),
                (
                    bool(self.ctr_estimates) and set(self.ctr_estimates) <= set(CTR_ESTIMATES),
                    f"ctr_estimates must be a non-empty subset of {CTR_ESTIMATES}, got {self.ctr_estimates}",
                ),
                (self.rival_ctr in CTR_ESTIMATES, f"rival_ctr must be one of {CTR_ESTIMATES}, got {self.rival_ctr!r}"),
                (self.tie_break in ("random", "id"), f"tie_break must be random or id, got {self.tie_break!r}"),
                (
                    set(self.gate_fail_on) <= set(HEADLINES),
                    f"gate_fail_on must be a subset of {HEADLINES}, got {self.gate_fail_on}",
                ),
                (
                    bool(self.auction_scenarios) and bool(self.pricing_scenarios),
                    "at least one auction and one pricing scenario",
                ),
                (self.pricing_steps >= 24, f"pricing_steps must be >= 24, got {self.pricing_steps}"),
                (
                    all(set(o) <= PRICING_KNOBS for o in self.pricing_scenarios.values()),
                    f"pricing_scenarios may only set {sorted(PRICING_KNOBS)}",
                ),
            ],
        )


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> NightlyConfig:
    """Config for ``profile`` with ``overrides`` (None values mean 'profile default')."""
    return build_config(NightlyConfig, PIPELINE, profile, overrides)
