"""Curriculum and action discretisation for the learning bidders (groundwork of the learning-bidders issue).

Stages (the original design's three): basic bidding (complexity 0.3: short episodes, few
customers, no retargeting rival, lifecycle frozen), customer lifecycle (0.6), full
retargeting (1.0: the whole market). ``env_config`` turns a complexity into an
:class:`models.market_env.EnvConfig`; :class:`Curriculum` promotes to the next stage when
the mean episode reward reaches the stage's threshold or after its iteration budget.

DQN needs a discrete action space: :class:`DiscreteBids` maps an index to one of a grid of
(bid, target stage, intensity) actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import gymnasium as gym
import numpy as np

from models.market_env import BID_GRID, EnvConfig


@dataclass(frozen=True)
class Stage:
    name: str
    complexity: float
    iterations: int                      # the most iterations before moving on
    reward_threshold: float | None = None  # move on earlier once the mean episode reward reaches this


STAGES = (Stage("basic_bidding", 0.3, 200), Stage("customer_lifecycle", 0.6, 300), Stage("full_retargeting", 1.0, 500))


def env_config(complexity: float, base: EnvConfig = EnvConfig()) -> EnvConfig:
    """The environment of a curriculum stage: longer episodes, more customers and a living lifecycle as
    complexity grows from 0 to 1 (1 = ``base`` itself)."""
    if not 0 < complexity <= 1:
        raise ValueError(f"complexity must be in (0, 1], got {complexity}")
    m = base.market
    frozen = complexity < 0.5  # stage 1: customers keep their stage; bidding is the only lesson
    life = m.lifecycle if not frozen else replace(m.lifecycle, cool_after=10**9, churn_after=10**9, lost_after=10**9,
                                                  organic_visit_rate=0.0)
    market = replace(m, customers=max(100, int(m.customers * complexity)), lifecycle=life)
    return replace(base, market=market, episode_steps=max(24, int(base.episode_steps * complexity)))


@dataclass
class Curriculum:
    """Tracks the current stage and decides promotions from per-iteration mean episode rewards."""

    stages: tuple[Stage, ...] = STAGES
    index: int = 0
    iterations_in_stage: int = 0
    history: list[dict] = field(default_factory=list)

    @property
    def stage(self) -> Stage:
        return self.stages[self.index]

    @property
    def finished(self) -> bool:
        return self.index >= len(self.stages)

    def record(self, mean_reward: float) -> bool:
        """Record one training iteration; True when it ends the current stage (then the next one starts)."""
        st = self.stage
        self.iterations_in_stage += 1
        reached = st.reward_threshold is not None and mean_reward >= st.reward_threshold
        done = reached or self.iterations_in_stage >= st.iterations
        self.history.append({"stage": st.name, "iteration": self.iterations_in_stage, "mean_reward": mean_reward,
                             "promoted": done, "reason": "threshold" if reached else ("budget" if done else "")})
        if done:
            self.index += 1
            self.iterations_in_stage = 0
        return done


class DiscreteBids(gym.ActionWrapper):
    """A Discrete action space over models.market_env.BID_GRID (bid, target stage, intensity), for DQN."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.grid = BID_GRID
        self.action_space = gym.spaces.Discrete(len(self.grid))

    def action(self, action: int) -> np.ndarray:
        return self.grid[int(action)]
