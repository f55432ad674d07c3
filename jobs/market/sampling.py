"""RLlib's sampling side made lighter for the market's many small agents, without changing what is learned.

- ``CountOnceEnvRunner``: RLlib's MultiAgentEnvRunner logs ten counters after every env step of every env copy
  (env steps, episodes, and steps per agent and per module, each as a window sum and a lifetime sum): with 32
  market copies that is ~20 metrics-logger calls per env step, a quarter of its own sampling time with an env
  that does nothing (bench/rl_floor.py). Here the counts are kept in a plain dict during the sampling loop and
  logged once each when it ends: the same keys, reductions and totals, so what RLlib reads from them afterwards
  (the iteration's ``num_env_steps_sampled_lifetime``, DQN's replay ratio) is unchanged; only the lifetime-steps
  throughput metric sees one push per call instead of one per step.
- ``ActionsMappedInEnv``: RLlib maps a Gaussian policy's outputs from [-1, 1] onto the env's Box
  (``normalize_actions``) in a connector that deep-copies the step's actions and unsquashes them one agent of one
  env copy at a time through ``tree.map_structure``: 13% of its sampling time with a do-nothing env. This env
  wrapper applies the same formula to each agent's array as the action arrives (RLlib's normalisation is turned
  off in the config), so the env receives the same floats and RLlib still trains on the raw outputs.

Both are checked to train bit for bit as RLlib's defaults do (tests/test_market_rllib.py).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.rllib.utils.metrics import (
    NUM_AGENT_STEPS_SAMPLED,
    NUM_AGENT_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_SAMPLED,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    NUM_EPISODES,
    NUM_EPISODES_LIFETIME,
    NUM_MODULE_STEPS_SAMPLED,
    NUM_MODULE_STEPS_SAMPLED_LIFETIME,
)

_LIFETIME = {NUM_ENV_STEPS_SAMPLED_LIFETIME, NUM_EPISODES_LIFETIME, NUM_AGENT_STEPS_SAMPLED_LIFETIME,
             NUM_MODULE_STEPS_SAMPLED_LIFETIME}


def _reduce(key: str | tuple[str, str]) -> str:
    """The reduction RLlib logs this counter with."""
    return "lifetime_sum" if (key[0] if isinstance(key, tuple) else key) in _LIFETIME else "sum"


class CountOnceEnvRunner(MultiAgentEnvRunner):
    """MultiAgentEnvRunner whose per-step counters are summed in the sampling loop and logged at its end."""

    _counts: Counter | None = None

    def _sample(self, **kwargs: Any) -> list[Any]:
        self._counts = Counter()
        try:
            return super()._sample(**kwargs)
        finally:
            # Logged even when sampling fails part-way (an env error): the steps taken were taken.
            counts, self._counts = self._counts, None
            for key, n in counts.items():
                self.metrics.log_value(key, n, reduce=_reduce(key),
                                       with_throughput=True if key == NUM_ENV_STEPS_SAMPLED_LIFETIME else None)

    def _increase_sampled_metrics(self, num_steps: int, next_obs: dict[Any, Any], episode: Any) -> int:
        if self._counts is None:  # called outside _sample (not by RLlib today): log as RLlib does
            return super()._increase_sampled_metrics(num_steps, next_obs, episode)
        c = self._counts
        c[NUM_ENV_STEPS_SAMPLED] += num_steps
        c[NUM_ENV_STEPS_SAMPLED_LIFETIME] += num_steps
        if episode.is_done:
            c[NUM_EPISODES] += 1
            c[NUM_EPISODES_LIFETIME] += 1
        for aid in next_obs:
            module = episode.module_for(aid)
            c[(NUM_AGENT_STEPS_SAMPLED, str(aid))] += 1
            c[(NUM_AGENT_STEPS_SAMPLED_LIFETIME, str(aid))] += 1
            c[(NUM_MODULE_STEPS_SAMPLED, module)] += 1
            c[(NUM_MODULE_STEPS_SAMPLED_LIFETIME, module)] += 1
        return num_steps


class ActionsMappedInEnv(ParallelPettingZooEnv):
    """RLlib's PettingZoo wrapper that maps each Box action from [-1, 1] onto its space's bounds, then clips, with
    RLlib's ``unsquash_action`` formula; Discrete actions pass through. For configs with ``normalize_actions`` and
    ``clip_actions`` off."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._bounds = {aid: (space.low, space.high) for aid in self._agent_ids
                        if isinstance(space := env.action_space(aid), gym.spaces.Box)}

    def step(self, action_dict: dict[Any, Any]) -> tuple[dict, dict, dict, dict, dict]:
        mapped = {}
        for aid, a in action_dict.items():
            if aid in self._bounds:
                low, high = self._bounds[aid]
                a = np.clip(low + (a + 1.0) * (high - low) / 2.0, low, high)
            mapped[aid] = a
        return super().step(mapped)
