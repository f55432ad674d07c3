"""The learning bidders' curriculum: stages and promotion.

Stages (the original design's three): basic bidding (complexity 0.3: short episodes, few
customers, no retargeting rival, lifecycle frozen), customer lifecycle (0.6), full
retargeting (1.0: the whole market). :func:`models.market.envs.env_config` turns a complexity
into an environment; :class:`Curriculum` promotes to the next stage when the mean episode
reward reaches the stage's threshold or after its iteration budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stage:
    name: str
    complexity: float
    iterations: int                      # the most iterations before moving on
    reward_threshold: float | None = None  # move on earlier once the mean episode reward reaches this


@dataclass
class Curriculum:
    """Tracks the current stage and decides promotions from per-iteration mean episode rewards."""

    stages: tuple[Stage, ...]
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
