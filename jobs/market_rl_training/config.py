"""The run-invariant settings of the market_rl_training pipeline: market, training, evaluation, and who learns
with which algorithm, hyperparameters and curriculum (all in profiles/market_rl_training.yaml, all hashed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.config import build_config, require
from jobs.market.advertisers import advertiser_names, load_advertisers
from models.common.streams import derived_seed
from models.market.curriculum import Stage
from models.market.policies import ALGORITHMS

PIPELINE = "market_rl_training"
EXPERIMENT = "market_rl_training"
# What each algorithm's RLlib config needs from the hyperparameters (no silent library defaults).
HYPER_KEYS = {"PPO": {"lr", "gamma", "clip_param", "num_epochs", "hidden"},
              "APPO": {"lr", "gamma", "clip_param", "num_epochs", "entropy_coeff", "hidden"},
              "DQN": {"lr", "gamma", "epsilon", "hidden"}}
PRICING_KEYS = {"lr", "gamma", "clip_param", "vf_clip_param", "batch", "minibatch_size", "num_epochs"}


@dataclass(frozen=True)
class RlConfig:
    """Every knob of one training run (profile values overridden by DAG Params).

    Attributes:
        seed: seeds RLlib and the envs; the evaluation seeds are offsets of it (see eval_seed_list).
        customers, arrival_rate, pool_size, episode_steps: the training market at complexity 1.
        batch: env steps per training iteration; checkpoint_every: iterations between checkpoints.
        envs_per_runner: market copies stepped together by each env runner (PPO and APPO);
            dqn_envs_per_runner: the same for DQN (each copy samples whole episodes; one update per episode's
            worth of steps whatever the count).
        cluster_env_runners: env runners as Ray actors when RAY_ADDRESS names a Ray cluster (without one,
            the driver samples).
        eval_every: iterations between evaluations of the learners (and at the last); the best
            evaluated module per agent is the one kept and registered.
        eval_seeds, eval_steps: the fixed-seed evaluation of learned vs scripted bidders during training (the
            selection seeds: each evaluation picks the best module per agent), hours per evaluation run.
        verdict_seeds: the final verdict's seeds (disjoint from the selection seeds): played once, so more of
            them buy narrower intervals for little time.
        league_rounds: rounds of league training after the curriculum (0: none), each family in turn
            re-training against the other learners' current policies; league_iterations: its iterations per
            family and round.
        spend_floor, spend_value_step: every learner trains to deliver at least ``spend_floor`` x its script's
            spend (jobs/market_rl_training/delivery.py: a Lagrange multiplier on spend, moved by
            ``spend_value_step`` x the shortfall after each evaluation); 0 trains on profit alone.
        pricing_timesteps, pricing_eval_seeds: PPO on the pricing env and its evaluation.
        agents: learning advertiser -> ``{algorithm: PPO | DQN | APPO}``; each replaces the scripted
            strategy of the same name.
        hyperparameters: algorithm -> its RLlib training settings (``hidden``: the networks' hidden layers).
        curriculum: stages in order: ``{name, complexity, iterations: {smoke, demo, full}}`` and an
            optional ``reward_threshold`` that ends a stage early.
        pricing_hyperparameters: PPO on the pricing env (``batch`` is capped by ``pricing_timesteps``).
    """

    profile: str
    seed: int
    customers: int
    arrival_rate: float
    pool_size: int
    episode_steps: int
    batch: int
    envs_per_runner: int
    dqn_envs_per_runner: int
    cluster_env_runners: int
    checkpoint_every: int
    eval_every: int
    eval_seeds: int
    eval_steps: int
    verdict_seeds: int
    league_rounds: int
    league_iterations: int
    spend_floor: float
    spend_value_step: float
    pricing_timesteps: int
    pricing_eval_seeds: int
    agents: Mapping[str, Mapping[str, Any]]
    hyperparameters: Mapping[str, Mapping[str, Any]]
    curriculum: tuple[Mapping[str, Any], ...]
    pricing_hyperparameters: Mapping[str, Any]

    def __post_init__(self) -> None:
        in_use = {a.get("algorithm") for a in self.agents.values()} & set(ALGORITHMS)
        missing = {alg: sorted(HYPER_KEYS[alg] - set(self.hyperparameters.get(alg, {}))) for alg in sorted(in_use)}
        missing = {alg: keys for alg, keys in missing.items() if keys}
        require(
            "RlConfig",
            [
                (self.customers >= 100 and self.pool_size >= 500, "customers >= 100 and pool_size >= 500"),
                (self.episode_steps >= 24 and self.eval_steps >= 24, "episode_steps and eval_steps >= 24 (a day)"),
                (self.eval_every >= 1 and self.checkpoint_every >= 1, "eval_every and checkpoint_every must be >= 1"),
                (self.league_rounds >= 0 and self.league_iterations >= 1,
                 f"league_rounds must be >= 0 and league_iterations >= 1, got {self.league_rounds} and "
                 f"{self.league_iterations}"),
                (
                    self.batch >= self.episode_steps,
                    f"batch ({self.batch}) must hold an episode ({self.episode_steps} steps)",
                ),
                (0 <= self.spend_floor <= 1 and self.spend_value_step >= 0,
                 f"spend_floor must be in [0, 1] and spend_value_step >= 0, got {self.spend_floor} and "
                 f"{self.spend_value_step}"),
                (self.cluster_env_runners >= 0, f"cluster_env_runners must be >= 0, got {self.cluster_env_runners}"),
                (
                    1 <= self.envs_per_runner <= self.batch and 1 <= self.dqn_envs_per_runner <= self.batch,
                    f"envs_per_runner and dqn_envs_per_runner must be in [1, batch], got {self.envs_per_runner} and "
                    f"{self.dqn_envs_per_runner}",
                ),
                (min(self.eval_seeds, self.verdict_seeds, self.pricing_eval_seeds) >= 2,
                 f"eval_seeds, verdict_seeds and pricing_eval_seeds must be >= 2 (intervals are over seeds), got "
                 f"{self.eval_seeds}, {self.verdict_seeds} and {self.pricing_eval_seeds}"),
                (self.pricing_timesteps >= 200, f"pricing_timesteps must be >= 200, got {self.pricing_timesteps}"),
                (bool(self.agents), "agents: at least one learning advertiser"),
                (set(self.agents) <= set(advertiser_names()),
                 f"agents {sorted(set(self.agents) - set(advertiser_names()))} are not scripted advertisers "
                 f"(market_advertisers.yaml): a learner replaces a script of the same name"),
                (all(a.get("algorithm") in ALGORITHMS for a in self.agents.values()),
                 f"every agent's algorithm must be one of {ALGORITHMS}"),
                (not missing, f"hyperparameters must set, for each algorithm in use, what is missing here: {missing}"),
                (PRICING_KEYS <= set(self.pricing_hyperparameters),
                 f"pricing_hyperparameters must set {sorted(PRICING_KEYS)}"),
                (bool(self.curriculum) and all(0 < float(s["complexity"]) <= 1 for s in self.curriculum),
                 "curriculum: at least one stage, each with complexity in (0, 1]"),
                (all(int(s["iterations"][self.profile]) >= 1 for s in self.curriculum),
                 f"curriculum: every stage needs iterations >= 1 for profile {self.profile!r}"),
            ],
        )

    def stages(self) -> tuple[Stage, ...]:
        """The curriculum of this profile."""
        return tuple(Stage(s["name"], float(s["complexity"]), int(s["iterations"][self.profile]),
                           s.get("reward_threshold")) for s in self.curriculum)

    def eval_seed_list(self, purpose: str) -> list[int]:
        """Fixed evaluation seeds, apart from the training seeds. ``select`` picks the best module per agent
        and ``verdict`` judges it: disjoint, so the verdict is not biased by the choice of the best."""
        if purpose not in ("verdict", "select"):
            raise ValueError(f"purpose must be verdict or select, got {purpose!r}")
        count = self.verdict_seeds if purpose == "verdict" else self.eval_seeds
        return [derived_seed(self.seed, f"rl.{purpose}", i) for i in range(count)]

    def env(self) -> dict[str, Any]:
        """The training market as a plain dict (what RLlib hands its env creators), scripted advertisers included."""
        return {"customers": self.customers, "arrival_rate": self.arrival_rate, "pool_size": self.pool_size,
                "episode_steps": self.episode_steps, "advertisers": load_advertisers()}


def load(profile: str = "demo", overrides: dict[str, Any] | None = None) -> RlConfig:
    return build_config(RlConfig, PIPELINE, profile, overrides)
