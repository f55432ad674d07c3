"""RLlib glue for the market pipelines: Ray start-up, env registration, algorithm construction, curriculum
training with checkpoints, and deterministic actions from a trained RLModule.

RLlib runs one algorithm per ``Algorithm``: each family first learns against the scripted rest of the
market, then, in league rounds, against the other families' latest policies, frozen inside its envs
(``opponents`` in the env dict, module checkpoints by path). A Ray cluster address in ``RAY_ADDRESS``
scales the env runners out (its workers must see the checkpoint folder: the stack's Ray head runs on
this machine); otherwise Ray runs in-process on this machine's cores.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jobs.paths import save_directory
from jobs.resources import cpu_count
from models.common.streams import stream
from models.market.curriculum import Curriculum
from models.market.envs import ACTION_GRID
from models.market.policies import Family, market_env, pricing_env

log = logging.getLogger(__name__)
MARKET_ENV, PRICING_ENV = "retargeting_market", "dynamic_pricing"
RLLIB_SAMPLING_ENV = "retargeting_market_rllib_sampling"


def start_ray() -> None:
    """Ray in-process on this machine (or the cluster in RAY_ADDRESS), with both envs registered."""
    import ray
    from ray.tune.registry import register_env

    from jobs.market.sampling import ActionsMappedInEnv

    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            # The cluster's workers get this project's code with the job (a remote cluster has no checkout).
            import jobs
            import models

            packages = [next(iter(m.__path__)) for m in (jobs, models)]
            ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False,
                     runtime_env={"py_modules": packages, "excludes": ["__pycache__"]})
        else:
            ray.init(num_cpus=cpu_count(), include_dashboard=False, log_to_driver=False)
    register_env(MARKET_ENV, lambda cfg: ActionsMappedInEnv(_market_env(cfg)))
    register_env(PRICING_ENV, lambda cfg: pricing_env(cfg))


def _market_env(cfg: dict[str, Any]) -> Any:
    return market_env(cfg, frozen_policies(cfg.get("opponents")))


def with_rllib_sampling(config: Any) -> Any:
    """``config`` (from :func:`algorithm_config`) sampling as RLlib does by default: its MultiAgentEnvRunner, Box
    actions normalised by its connector, the plain PettingZoo wrapper. The reference that jobs.market.sampling is
    checked against (same training, bit for bit) and measured against (bench/rl_iteration.py)."""
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env

    register_env(RLLIB_SAMPLING_ENV, lambda cfg: ParallelPettingZooEnv(_market_env(cfg)))
    return (config.env_runners(env_runner_cls=MultiAgentEnvRunner)
            .environment(RLLIB_SAMPLING_ENV, normalize_actions=True, clip_actions=False))


def remote_env_runners(cluster_env_runners: int) -> int:
    """Env runners as Ray actors: ``cluster_env_runners`` on the cluster in RAY_ADDRESS; none in-process,
    where sampling in the driver is faster than actors competing with it for this machine's cores."""
    return cluster_env_runners if os.environ.get("RAY_ADDRESS") else 0


def build(family: Family, env_cfg: dict[str, Any], batch: int, seed: int, envs_per_runner: int = 1,
          env_runners: int = 0, dqn_envs_per_runner: int = 1) -> Any:
    """The RLlib Algorithm of :func:`algorithm_config`, built, its replay buffer (DQN) seeded."""
    return build_algorithm(algorithm_config(family, env_cfg, batch, seed, envs_per_runner, env_runners,
                                            dqn_envs_per_runner), seed)


def build_algorithm(config: Any, seed: int) -> Any:
    """``config`` built into its Algorithm, the replay buffer (DQN) seeded with ``seed``."""
    algo = config.build_algo()
    if getattr(algo, "local_replay_buffer", None) is not None:
        # RLlib's episode replay buffers draw from an unseeded generator: seed it, or DQN runs differ.
        algo.local_replay_buffer.rng = stream(seed, "rllib.replay_buffer")
    return algo


def algorithm_config(family: Family, env_cfg: dict[str, Any], batch: int, seed: int, envs_per_runner: int = 1,
                     env_runners: int = 0, dqn_envs_per_runner: int = 1) -> Any:
    """The RLlib config training ``family.learners`` (one policy each) against the scripted rest.

    ``envs_per_runner`` copies of the market step in lockstep so RLlib's per-step work (connectors,
    one forward pass) is shared: a PPO iteration of 1,920 steps sampled in 2.4-2.6 s with 8 copies, 1.7 s with
    16 and 1.4 s with 32 here. DQN steps ``dqn_envs_per_runner`` copies, each sampling whole episodes (what
    its multi-agent replay buffer was checked with), and takes one update of 32 transitions per episode's
    worth of sampled steps whatever the count (``training_intensity``): with 8 copies, 8 updates after every 8
    episodes instead of one after each. An iteration of 1,920 steps took 3.1 s with one copy, 1.4 s with 8
    (bench/rl_iteration.py, interleaved).
    ``env_runners`` > 0 samples in that many Ray actors (on a cluster) instead of the driver. The env runners
    count sampled steps once per sample() call, and the env maps Box actions onto their bounds as RLlib's
    connector would (jobs.market.sampling): the same training, less of RLlib's per-step Python."""
    from ray.rllib.algorithms.appo import APPOConfig
    from ray.rllib.algorithms.dqn import DQNConfig
    from ray.rllib.algorithms.ppo import PPOConfig

    from jobs.market.appo_learner import InOrderAPPOLearner
    from jobs.market.sampling import CountOnceEnvRunner

    learners = list(family.learners)
    rivals = [n for n in env_cfg["advertisers"] if n not in learners]  # every other advertiser keeps its script
    env = {**env_cfg, "learners": learners, "rivals": rivals, "discrete": family.algorithm == "DQN"}
    h = dict(family.hyper)
    dqn = family.algorithm == "DQN"
    nenv = dqn_envs_per_runner if dqn else envs_per_runner
    # Each iteration collects ``batch`` steps: a fragment per env copy per runner (the driver counts as one);
    # DQN's fragments are whole episodes.
    fragment = int(env_cfg["episode_steps"]) if dqn else max(batch // (nenv * max(env_runners, 1)), 1)
    if family.algorithm == "PPO":
        config = PPOConfig().training(
            lr=h["lr"],
            gamma=h["gamma"],
            clip_param=h["clip_param"],
            train_batch_size_per_learner=batch,
            minibatch_size=max(batch // 4, 16),
            num_epochs=h["num_epochs"],
        )
    elif family.algorithm == "APPO":
        # APPO's default keeps sampling for 10 s per iteration; here an iteration is ``batch`` steps, as for PPO.
        # RLlib's APPO takes one gradient step per train batch by default (PPO: num_epochs x 4 minibatches); with
        # that it barely moved in 50 iterations. Its learner takes epochs and minibatches as PPO's does.
        config = (
            APPOConfig()
            .training(
                lr=h["lr"],
                gamma=h["gamma"],
                clip_param=h["clip_param"],
                train_batch_size_per_learner=batch,
                minibatch_size=fragment * max((batch // 4) // fragment, 1),  # APPO wants whole fragments
                num_epochs=h["num_epochs"],
                entropy_coeff=h["entropy_coeff"],
                # Reproducible on one machine (InOrderAPPOLearner): the sampler gets every update's weights, and
                # each batch is one update, queued; RLlib's default circular buffer let the learner thread take a
                # batch a second time, picked by an unseeded generator, while the next batch was being sampled.
                learner_class=InOrderAPPOLearner,
                broadcast_interval=1,
                use_circular_buffer=False,
            )
            .reporting(min_time_s_per_iteration=0, min_sample_timesteps_per_iteration=batch)
        )
    else:
        # One train() call samples ``batch`` steps in episode-long fragments and learns from a replay buffer.
        config = (
            DQNConfig()
            .training(
                lr=h["lr"],
                gamma=h["gamma"],
                epsilon=[list(point) for point in h["epsilon"]],  # RLlib's schedule wants lists
                train_batch_size_per_learner=32,
                # Replayed / sampled steps: one batch of 32 per episode sampled, as with one copy. RLlib counts
                # the driver as a sampler beside remote runners (it does not sample then): the last factor
                # takes it back out.
                training_intensity=32 / int(env_cfg["episode_steps"]) * max(env_runners, 1) / (env_runners + 1),
                num_steps_sampled_before_learning_starts=int(env_cfg["episode_steps"]),
                replay_buffer_config={"type": "MultiAgentEpisodeReplayBuffer", "capacity": 50_000},
            )
            .reporting(min_sample_timesteps_per_iteration=batch)
        )
    # RLlib's normalisation of Box actions is done in the env as they arrive (ActionsMappedInEnv, registered in
    # start_ray): the same floats without RLlib's per-agent copy and map.
    config = (config.environment(MARKET_ENV, env_config=env, normalize_actions=False, clip_actions=False)
              .rl_module(model_config={"fcnet_hiddens": [int(n) for n in h["hidden"]]})
              .env_runners(env_runner_cls=CountOnceEnvRunner, num_env_runners=env_runners,
                           num_envs_per_env_runner=nenv, rollout_fragment_length=fragment)
              .learners(num_learners=0)
              .multi_agent(policies=learners, policy_mapping_fn=lambda agent_id, *a, **k: agent_id)
              .debugging(seed=seed))
    return config


def _each_env(algo: Any, fn: Callable[[Any], None]) -> None:
    """``fn(env)`` on the RetargetingParallelEnv of every env copy of every env runner (run where the env lives:
    a Ray actor or the driver)."""
    def apply(runner: Any) -> None:
        if runner.env is None:  # the driver's runner when remote runners sample
            return
        for e in runner.env.envs:
            fn(e.unwrapped.par_env)

    algo.env_runner_group.foreach_env_runner(apply, local_env_runner=True)


def set_complexity(algo: Any, complexity: float) -> None:
    """Every env of every env runner moves to this curriculum complexity (from the next episode)."""
    _each_env(algo, lambda env: env.set_complexity(complexity))


def set_spend_values(algo: Any, values: dict[str, float]) -> None:
    """Every env of every env runner rewards these learners' spend at these Lagrange multipliers
    (RetargetingParallelEnv.set_spend_values); learners of another family are not in ``values``."""
    _each_env(algo, lambda env: env.set_spend_values({a: v for a, v in values.items() if a in env.possible_agents}))


def load_module(path: str) -> Any:
    """An RLModule from its checkpoint folder."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    return RLModule.from_checkpoint(path)


@functools.lru_cache(maxsize=64)
def _module(path: str, mtime_ns: int) -> Any:  # the time in the key: a checkpoint rewritten in place reloads
    return load_module(path)


def frozen_policies(paths: dict[str, str] | None) -> dict[str, Any]:
    """Frozen learned bidders by name from their module checkpoints: observations in, env actions out."""
    out = {}
    for name, path in (paths or {}).items():
        module = _module(str(path), Path(path).stat().st_mtime_ns)
        out[name] = lambda obs, m=module: act(m, obs, m.action_space)
    return out


def set_opponents(algo: Any, paths: dict[str, str]) -> None:
    """Every env of every env runner plays against these frozen learned bidders from its next episode."""
    # Loaded where the env lives (a Ray actor or the driver); _module caches each checkpoint once per process.
    _each_env(algo, lambda env: env.set_opponents(frozen_policies(paths)))


def train_curriculum(algo: Any, curriculum: Curriculum, on_iteration: Any, checkpoint_every: int, ckpt_dir: Path,
                     max_iterations: int = 10_000) -> list[dict[str, Any]]:
    """Train through the curriculum; ``on_iteration(row)`` after each iteration; checkpoints every K."""
    rows = []
    set_complexity(algo, curriculum.stage.complexity)
    t_stage = time.monotonic()
    for it in range(max_iterations):  # a loop over training iterations
        if curriculum.finished:
            break
        stage = curriculum.stage
        t0 = time.monotonic()
        result = algo.train()
        runners = result.get("env_runners", {})
        mean = float(runners.get("episode_return_mean", np.nan))
        row = {"iteration": it + 1, "stage": stage.name, "complexity": stage.complexity, "episode_return_mean": mean,
               "env_steps": float(runners.get("num_env_steps_sampled_lifetime", 0)),
               "seconds": time.monotonic() - t0}
        promoted = curriculum.record(0.0 if np.isnan(mean) else mean)
        row["promoted"] = promoted
        if promoted:
            row["stage_seconds"] = time.monotonic() - t_stage
            t_stage = time.monotonic()
            if not curriculum.finished:
                set_complexity(algo, curriculum.stage.complexity)
        if checkpoint_every and (it + 1) % checkpoint_every == 0 or curriculum.finished:
            row["checkpoint"] = str(save_directory(algo.save_to_path, ckpt_dir / f"iter_{it + 1:05d}"))
        rows.append(row)
        on_iteration(row)
    return rows


def act(module: Any, obs: np.ndarray, space: Any) -> np.ndarray:
    """Deterministic env actions of an RLModule for a batch of observations.

    ``space`` is the env's action space: a Discrete index becomes its row of ACTION_GRID; a
    continuous output is mapped from [-1, 1] onto the Box as RLlib does while training
    (``normalize_actions``), then clipped to it.
    """
    import gymnasium as gym
    import torch
    from ray.rllib.utils.spaces.space_utils import unsquash_action

    with torch.no_grad():
        out = module.forward_inference({"obs": torch.as_tensor(np.asarray(obs, dtype=np.float32))})
    if isinstance(space, gym.spaces.Discrete):
        if "actions" in out:  # DQN's module returns greedy actions directly
            idx = out["actions"].numpy()
        else:
            idx = (
                module.get_inference_action_dist_cls()
                .from_logits(out["action_dist_inputs"])
                .to_deterministic()
                .sample()
                .numpy()
            )
        return ACTION_GRID[np.asarray(idx).astype(int).reshape(-1)]
    dist = module.get_inference_action_dist_cls().from_logits(out["action_dist_inputs"])
    raw = dist.to_deterministic().sample().numpy().reshape(len(obs), -1)
    return np.clip(unsquash_action(raw, space), space.low, space.high)


