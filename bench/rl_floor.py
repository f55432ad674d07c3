"""RLlib's own floor: each bidder family's training iteration on an env that does nothing, timed.

``python bench/rl_floor.py [--profile demo] [--iterations 6]``: per family (PPO, DQN, APPO), the profile's exact
RLlib settings (jobs.market.rllib.algorithm_config: batch, env copies, networks, epochs, replay) on a do-nothing
env with the market's agents, spaces and episode length (zero observations and rewards, no market). What such an
iteration costs is RLlib's sampler and learner alone, an upper bound on the env steps per second any market can
train at with them on this machine. Two Algorithms per family alternate their iterations (this VM's speed drifts
up to 2x within minutes): ``lighter``, the pipeline's sampling (jobs.market.sampling), and ``rllib``, RLlib's
defaults (``with_rllib_sampling``). Writes bench/results/rl_floor.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from common import interleaved_iterations, rllib_timers, write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jobs.hashseed import run_with_fixed_hash_seed  # noqa: E402

NOOP_ENV = "market_shaped_noop"


def noop_env(cfg: dict[str, Any]) -> Any:
    """A PettingZoo Parallel env with the market env's agents, spaces and episode length that computes nothing."""
    import gymnasium as gym
    import numpy as np
    from pettingzoo import ParallelEnv

    from models.market.envs import ACTION_GRID, OBS_SIZE, action_space, observation_space

    class Noop(ParallelEnv):
        metadata = {"render_modes": [], "name": "market_shaped_noop"}

        def __init__(self) -> None:
            self.possible_agents, self.agents, self.t = list(cfg["learners"]), [], 0
            self.obs_space = observation_space()
            self.act_space = gym.spaces.Discrete(len(ACTION_GRID)) if cfg.get("discrete") else action_space()
            self.zero = np.zeros(OBS_SIZE, dtype=np.float32)

        def observation_space(self, agent: str) -> gym.spaces.Space:
            return self.obs_space

        def action_space(self, agent: str) -> gym.spaces.Space:
            return self.act_space

        def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
            self.agents, self.t = list(self.possible_agents), 0
            return {a: self.zero for a in self.agents}, {a: {} for a in self.agents}

        def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
            self.t += 1
            done, agents = self.t >= int(cfg["episode_steps"]), self.agents
            if done:
                self.agents = []
            return ({a: self.zero for a in agents}, {a: 0.0 for a in agents}, {a: False for a in agents},
                    {a: done for a in agents}, {a: {} for a in agents})

    return Noop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--iterations", type=int, default=6)
    args = parser.parse_args()
    run_with_fixed_hash_seed([__file__, *sys.argv[1:]])
    import ray
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env

    from jobs.market.rllib import algorithm_config, build_algorithm, start_ray, with_rllib_sampling
    from jobs.market.sampling import ActionsMappedInEnv
    from jobs.market_rl_training.config import load
    from models.market.policies import families

    cfg = load(args.profile)
    start_ray()
    register_env(NOOP_ENV, lambda c: ActionsMappedInEnv(noop_env(c)))
    register_env(NOOP_ENV + "_plain", lambda c: ParallelPettingZooEnv(noop_env(c)))
    rows = []
    try:
        for fam in families(cfg.agents, cfg.hyperparameters):
            base = algorithm_config(fam, cfg.env(), cfg.batch, cfg.seed, cfg.envs_per_runner,
                                    dqn_envs_per_runner=cfg.dqn_envs_per_runner)
            configs = {"lighter": base.copy(copy_frozen=False).environment(NOOP_ENV),
                       "rllib": with_rllib_sampling(base.copy(copy_frozen=False)).environment(NOOP_ENV + "_plain")}
            algos = {name: build_algorithm(c, cfg.seed) for name, c in configs.items()}
            for algo in algos.values():
                algo.train()  # warm-up
            seconds, last = interleaved_iterations(algos, args.iterations, fam.algorithm)
            for name, algo in algos.items():
                median = statistics.median(seconds[name])
                rows.append({"family": fam.algorithm, "learners": len(fam.learners), "sampling": name,
                             "seconds_median": round(median, 3), "seconds": [round(s, 3) for s in seconds[name]],
                             "env_steps_per_s": round(cfg.batch / median, 1), **rllib_timers(last[name])})
                algo.stop()
    finally:
        ray.shutdown()
    write_result("rl_floor", {"profile": args.profile, "batch": cfg.batch, "envs_per_runner": cfg.envs_per_runner,
                              "dqn_envs_per_runner": cfg.dqn_envs_per_runner, "iterations": args.iterations,
                              "env": "does nothing: the market env's agents, spaces and episode length",
                              "families": rows})
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
