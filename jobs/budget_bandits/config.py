"""The run-invariant settings of the budget_bandits pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.config import build_config, require
from models.bandits.thompson import MODES

PIPELINE = "budget_bandits"
EXPERIMENT = "budget_bandits"
SOURCES = ("synthetic", "local")
BACKENDS = ("template", "llm")


@dataclass(frozen=True)
class BudgetConfig:
    """Every knob of one budget_bandits run (profile values overridden by DAG Params).

    Attributes:
        source: ``synthetic`` (a drifting world with saved ground truth) or ``local``.
        local_path: facts (Parquet or CSV) with day, segment_key, clicks, conv, spent.
        seed: seeds the world, the legacy history, the plan's draws and the simulation.
        n_segments, history_days: size of the synthetic facts.
        horizon_days: days simulated after the last fact day.
        daily_budget: budget split across segments each day.
        cvr_drift, cpc_drift: daily random-walk steps of the world's rates (logit / log).
        prior_alpha, prior_beta: Beta prior on each segment's conversion rate per click.
        discount: weight of a one-day-older fact in the posterior (1 = no forgetting).
        mode: ``best`` (probability matching) or ``proportional`` (mean sampled rates).
        n_draws: posterior draws behind the published plan; sim_draws: per simulated day.
        floor, cap: pacing: minimum share and maximum daily change of a share.
        epsilon: exploration share of the epsilon-greedy baseline.
        sim_seeds: simulated seeds (intervals are over seeds).
        insights_backend: ``template`` (default, offline) or ``llm``.
        llm_model: model name sent to the LLM endpoint.
    """

    profile: str
    source: str
    local_path: str
    seed: int
    n_segments: int
    history_days: int
    horizon_days: int
    daily_budget: float
    cvr_drift: float
    cpc_drift: float
    prior_alpha: float
    prior_beta: float
    discount: float
    mode: str
    n_draws: int
    floor: float
    cap: float
    epsilon: float
    sim_seeds: int
    sim_draws: int
    insights_backend: str
    llm_model: str

    def __post_init__(self) -> None:
        checks = [
            (self.source in SOURCES, f"source must be one of {SOURCES}, got {self.source!r}"),
            (self.source != "local" or bool(self.local_path), "source=local needs local_path"),
            (self.n_segments >= 2, f"n_segments must be >= 2, got {self.n_segments}"),
            (self.history_days >= 1, f"history_days must be >= 1, got {self.history_days}"),
            (self.horizon_days >= 1, f"horizon_days must be >= 1, got {self.horizon_days}"),
            (self.daily_budget > 0, f"daily_budget must be > 0, got {self.daily_budget}"),
            (self.prior_alpha > 0 and self.prior_beta > 0, "prior_alpha and prior_beta must be > 0"),
            (0 < self.discount <= 1, f"discount must be in (0, 1], got {self.discount}"),
            (self.mode in MODES, f"mode must be one of {MODES}, got {self.mode!r}"),
            (self.n_draws >= 1 and self.sim_draws >= 1, "n_draws and sim_draws must be >= 1"),
            (0 <= self.floor < 1, f"floor must be in [0, 1), got {self.floor}"),
            (0 < self.cap <= 1, f"cap must be in (0, 1], got {self.cap}"),
            (0 <= self.epsilon <= 1, f"epsilon must be in [0, 1], got {self.epsilon}"),
            (self.sim_seeds >= 2, f"sim_seeds must be >= 2 (intervals are over seeds), got {self.sim_seeds}"),
            (self.insights_backend in BACKENDS, f"insights_backend must be one of {BACKENDS}"),
        ]
        require("BudgetConfig", checks)


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> BudgetConfig:
    """Config for ``profile`` with ``overrides`` (None values mean 'profile default')."""
    return build_config(BudgetConfig, PIPELINE, profile, overrides)
