"""The run-invariant settings of the banner_bandit_eval pipeline."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.config import build_config, require
from jobs.paths import REPO_ROOT
from models.bandits.ope import REWARD_MODELS

PIPELINE = "banner_bandit_eval"
EXPERIMENT = "banner_bandit_eval"


@dataclass(frozen=True)
class BannerConfig:
    """Every knob of one banner_bandit_eval run (profile values overridden by DAG Params).

    Attributes:
        source: ``logs`` (the OBD logs when present, and the synthetic logs) or ``served``: those and the online
            service's own impression log of the last ``served_days``, with the propensities it logged.
        obd_dir: Open Bandit Dataset folder holding ``random/`` and ``bts/`` (each with
            ``<campaign>.csv``); empty = ``$PLATFORM_OBD_DIR``, then ``../shared/data/obd``.
        campaign, platform: the OBD campaign (our ``location``) and the tenant key.
        seed: seeds every draw (policy sampling, bootstrap, folds, synthetic logs).
        prior_days: leading days of the random log that cold-start our TS policy; the
            rest is where it is evaluated.
        prior_alpha, prior_beta, prior_weight: the Beta prior and the weight of prior data.
        n_draws: posterior draws for the TS policy's action probabilities.
        n_boot: bootstrap replicates per interval.
        dr_folds, dr_prior_strength: the DR reward model's cross-fitting and (table model) shrinkage.
        reward_model: ``contextual`` (a logistic model on position, creative, the user's features and affinity
            to the creative, where the log has them; the table elsewhere) or ``table`` (position x creative).
        replay_batch: rows between posterior updates when replaying the learning policy.
        min_ess: an estimate whose weights' effective sample size is below this is flagged (and warned about).
        weight_clip: cap on each importance weight (0 = none; capped estimators lean low, the note says so).
        dr_splits: cross-fitting splits over which the DR estimate's spread is reported.
        synthetic_rows, synthetic_creatives, synthetic_positions: the synthetic logs.
        synthetic_segments, synthetic_segment_spread: user segments of the synthetic world (0: none) and the
            log-sd of their taste for each creative.
    """

    profile: str
    source: str
    served_days: int
    obd_dir: str
    campaign: str
    platform: str
    seed: int
    prior_days: int
    prior_alpha: float
    prior_beta: float
    prior_weight: float
    n_draws: int
    n_boot: int
    dr_folds: int
    dr_prior_strength: float
    reward_model: str
    replay_batch: int
    min_ess: float
    weight_clip: float
    dr_splits: int
    synthetic_rows: int
    synthetic_creatives: int
    synthetic_positions: int
    synthetic_segments: int
    synthetic_segment_spread: float

    def __post_init__(self) -> None:
        checks = [
            (self.source in ("logs", "served"), f"source must be logs or served, got {self.source!r}"),
            (self.served_days >= 1, f"served_days must be >= 1, got {self.served_days}"),
            (self.prior_days >= 1, f"prior_days must be >= 1, got {self.prior_days}"),
            (self.prior_alpha > 0 and self.prior_beta > 0, "prior_alpha and prior_beta must be > 0"),
            (self.prior_weight >= 0, f"prior_weight must be >= 0, got {self.prior_weight}"),
            (self.n_draws >= 1, f"n_draws must be >= 1, got {self.n_draws}"),
            (self.n_boot >= 50, f"n_boot must be >= 50 for a percentile interval, got {self.n_boot}"),
            (self.dr_folds >= 2, f"dr_folds must be >= 2 (cross-fitting), got {self.dr_folds}"),
            (self.dr_prior_strength >= 0, "dr_prior_strength must be >= 0"),
            (self.reward_model in REWARD_MODELS,
             f"reward_model must be one of {REWARD_MODELS}, got {self.reward_model!r}"),
            (self.replay_batch >= 1, f"replay_batch must be >= 1, got {self.replay_batch}"),
            (self.min_ess >= 0, f"min_ess must be >= 0, got {self.min_ess}"),
            (self.weight_clip == 0 or self.weight_clip >= 1,
             f"weight_clip must be 0 (none) or >= 1 (a cap below 1 would cut every weight), got {self.weight_clip}"),
            (self.dr_splits >= 2, f"dr_splits must be >= 2 for a spread, got {self.dr_splits}"),
            (self.synthetic_rows >= 1000, f"synthetic_rows must be >= 1000, got {self.synthetic_rows}"),
            (self.synthetic_creatives >= 2, "synthetic_creatives must be >= 2"),
            (self.synthetic_positions >= 1, "synthetic_positions must be >= 1"),
            (self.synthetic_segments >= 0 and self.synthetic_segment_spread >= 0,
             "synthetic_segments and synthetic_segment_spread must be >= 0"),
        ]
        require("BannerConfig", checks)

    def obd_path(self) -> Path:
        """Where the OBD logs are read from."""
        if self.obd_dir:
            return Path(self.obd_dir)
        if os.environ.get("PLATFORM_OBD_DIR"):
            return Path(os.environ["PLATFORM_OBD_DIR"])
        return REPO_ROOT.parent / "shared" / "data" / "obd"


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> BannerConfig:
    """Config for ``profile`` with ``overrides`` (None values mean 'profile default')."""
    return build_config(BannerConfig, PIPELINE, profile, overrides)
