"""The run-invariant settings of the market_rl_training pipeline (plus multi_agent_config.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jobs.config import PROFILES_DIR, build_config, require
from jobs.market.advertisers import load_advertisers
from models.market.curriculum import Stage

PIPELINE = "market_rl_training"
EXPERIMENT = "market_rl_training"
MULTI_AGENT = PROFILES_DIR / "multi_agent_config.yaml"


@dataclass(frozen=True)
class RlConfig:
    """Every knob of one training run (profile values overridden by DAG Params).

    Attributes:
        seed: seeds RLlib and the envs; the evaluation seeds are offsets of it (see eval_seed_list).
        customers, arrival_rate, pool_size, episode_steps: the training market at complexity 1.
        batch: env steps per training iteration; checkpoint_every: iterations between checkpoints.
        envs_per_runner: market copies stepped together by each env runner (PPO and APPO).
        eval_every: iterations between evaluations of the learners (and at the last); the best
            evaluated module per agent is the one kept and registered.
        eval_seeds, eval_steps: the fixed-seed evaluation of learned vs scripted bidders.
        pricing_timesteps, pricing_eval_seeds: PPO on the pricing env and its evaluation.
    """

    profile: str = "demo"
    seed: int = 0
    customers: int = 2000
    arrival_rate: float = 0.02
    pool_size: int = 5000
    episode_steps: int = 48
    batch: int = 480
    envs_per_runner: int = 8
    checkpoint_every: int = 5
    eval_every: int = 5
    eval_seeds: int = 5
    eval_steps: int = 168
    pricing_timesteps: int = 20_000
    pricing_eval_seeds: int = 10

    def __post_init__(self) -> None:
        require(
            "RlConfig",
            [
                (self.customers >= 100 and self.pool_size >= 500, "customers >= 100 and pool_size >= 500"),
                (self.episode_steps >= 24 and self.eval_steps >= 24, "episode_steps and eval_steps >= 24 (a day)"),
                (self.eval_every >= 1 and self.checkpoint_every >= 1, "eval_every and checkpoint_every must be >= 1"),
                (
                    self.batch >= self.episode_steps,
                    f"batch ({self.batch}) must hold an episode ({self.episode_steps} steps)",
                ),
                (
                    1 <= self.envs_per_runner <= self.batch,
                    f"envs_per_runner must be in [1, batch], got {self.envs_per_runner}",
                ),
                (self.eval_seeds >= 2 and self.pricing_eval_seeds >= 2, "eval seeds >= 2 (intervals are over seeds)"),
                (self.pricing_timesteps >= 200, f"pricing_timesteps must be >= 200, got {self.pricing_timesteps}"),
            ],
        )

    def eval_seed_list(self, purpose: str) -> list[int]:
        """Fixed evaluation seeds, apart from the training seeds. ``select`` picks the best module per agent
        and ``verdict`` judges it: disjoint, so the verdict is not biased by the choice of the best."""
        base = {"verdict": 1000, "select": 3000}[purpose]
        return [self.seed + base + i for i in range(self.eval_seeds)]

    def env(self) -> dict[str, Any]:
        """The training market as a plain dict (what RLlib hands its env creators), scripted advertisers included."""
        return {"customers": self.customers, "arrival_rate": self.arrival_rate, "pool_size": self.pool_size,
                "episode_steps": self.episode_steps, "advertisers": load_advertisers()}


def multi_agent(profile: str, path: Path = MULTI_AGENT) -> tuple[dict[str, Any], dict[str, Any], list[Stage]]:
    """(agents, hyperparameters, curriculum stages for ``profile``) from multi_agent_config.yaml."""
    doc = yaml.safe_load(path.read_text())
    stages = [Stage(s["name"], float(s["complexity"]), int(s["iterations"][profile]), s.get("reward_threshold"))
              for s in doc["curriculum"]]
    return doc["agents"], doc["hyperparameters"], stages


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> RlConfig:
    return build_config(RlConfig, PIPELINE, profile, overrides)
