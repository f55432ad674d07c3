"""The multi-agent market wraps into RLlib (new API stack): PPO trains on it, checkpoints round-trip, and the
restored policy acts in the env. The groundwork the learning-bidders work builds on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jobs.market.advertisers import load_advertisers
from models.market.envs import N_STAGES

pytestmark = pytest.mark.slow
LEARNERS = ["ppo_aggressive", "ppo_adaptive"]
ADVERTISERS = load_advertisers()


def _env(config: dict | None = None):  # type: ignore[no-untyped-def]
    from models.market.envs import EnvConfig, RetargetingParallelEnv
    from models.market.simulator import MarketConfig, strategies_from_config

    return RetargetingParallelEnv(LEARNERS, strategies_from_config(ADVERTISERS, ["conservative", "brand_awareness"]),
                                  EnvConfig(market=MarketConfig(customers=500, arrival_rate=0.05, pool_size=1000),
                                            episode_steps=24))


def test_ppo_trains_on_the_market_and_its_checkpoint_acts(tmp_path: Path) -> None:
    import ray
    import torch
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env

    register_env("retargeting_market", lambda cfg: ParallelPettingZooEnv(_env(cfg)))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        config = (PPOConfig().environment("retargeting_market").env_runners(num_env_runners=0).learners(num_learners=0)
                  .training(train_batch_size_per_learner=96, minibatch_size=48, num_epochs=1, lr=3e-4, gamma=0.99,
                            clip_param=0.2)
                  .multi_agent(policies=LEARNERS, policy_mapping_fn=lambda agent_id, *a, **k: agent_id)
                  .debugging(seed=0))
        algo = config.build_algo()
        result = algo.train()
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 96
        path = algo.save_to_path(str(tmp_path / "ckpt"))
        algo.stop()
        restored = Algorithm.from_checkpoint(path)
        module = restored.get_module("ppo_adaptive")
        env = _env()
        obs, _ = env.reset(seed=3)
        with torch.no_grad():
            out = module.forward_inference({"obs": torch.as_tensor(obs["ppo_adaptive"])[None]})
        dist = module.get_inference_action_dist_cls().from_logits(out["action_dist_inputs"])
        action = dist.to_deterministic().sample()[0].numpy()
        assert action.shape == (N_STAGES,) and np.isfinite(action).all()
        _, rewards, _, _, _ = env.step(
            {"ppo_adaptive": action, "ppo_aggressive": env.action_space("ppo_aggressive").sample()}
        )
        assert set(rewards) == set(LEARNERS)
        restored.stop()
    finally:
        ray.shutdown()


def _weights(module) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.concatenate([p.detach().numpy().ravel() for p in module.parameters()])


@pytest.mark.parametrize("algorithm", ["DQN", "APPO"])
def test_training_is_deterministic(algorithm: str) -> None:
    """Same seed, same weights. DQN: RLlib's replay buffer draws from an unseeded generator unless build() seeds
    it. APPO: its learner thread published weights on its own time, so the sampler got this update's weights or
    the previous one's; build()'s learner hands over this update's, which the sampler must hold after train()."""
    import ray
    import torch

    from jobs.market.rllib import build, start_ray
    from jobs.market_rl_training.config import load
    from models.market.policies import families

    cfg = load("smoke")
    fam = next(f for f in families(cfg.agents, cfg.hyperparameters) if f.algorithm == algorithm)
    start_ray()
    try:
        runs = []
        for _ in range(2):
            algo = build(fam, cfg.env(), cfg.batch, cfg.seed, cfg.envs_per_runner,
                         dqn_envs_per_runner=cfg.dqn_envs_per_runner)
            # The networks have the profile's hidden layers (APPO 64 x 64, DQN 256 x 256), not RLlib's default.
            layers = [m for m in algo.get_module(fam.learners[0]).modules() if isinstance(m, torch.nn.Linear)]
            assert [(m.in_features, m.out_features) for m in layers[:2]] == [(20, fam.hyper["hidden"][0]),
                                                                            tuple(fam.hyper["hidden"])]
            sampled = []  # the weights the next episodes are sampled with, after each iteration
            for it in range(4):
                algo.train()
                sampled.append(_weights(algo.get_module(fam.learners[0])))
                if algorithm == "APPO" and it % 2:  # RLlib's APPO syncs the sampler every second training step
                    learner = algo.learner_group.get_weights([fam.learners[0]])[fam.learners[0]]
                    sampler = algo.get_module(fam.learners[0]).state_dict()
                    assert sampler and set(sampler) <= set(learner)
                    for name, value in sampler.items():  # the latest update's weights, not the one before
                        np.testing.assert_array_equal(value.numpy(), np.asarray(learner[name]), err_msg=name)
            runs.append(np.stack(sampled))
            algo.stop()
        assert np.array_equal(runs[0], runs[1])
    finally:
        ray.shutdown()


@pytest.mark.parametrize("algorithm", ["PPO", "DQN"])
def test_the_lighter_sampling_trains_as_rllibs_defaults(algorithm: str) -> None:
    """jobs.market.sampling (counters summed per sample() call; Box actions mapped onto their bounds in the env
    wrapper) trains bit for bit as RLlib's own env runner and action normalisation: the same counters RLlib reads
    (env, agent and episode counts: DQN's replay ratio) and the same weights. PPO: two learners on Box actions;
    DQN: the counters drive when and how often it learns."""
    import ray
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

    from jobs.market.rllib import algorithm_config, build_algorithm, start_ray, with_rllib_sampling
    from jobs.market.sampling import ActionsMappedInEnv, CountOnceEnvRunner
    from jobs.market_rl_training.config import load
    from models.market.policies import families

    cfg = load("smoke")
    fam = next(f for f in families(cfg.agents, cfg.hyperparameters) if f.algorithm == algorithm)
    start_ray()
    try:
        runs = {}
        for rllib in (False, True):
            config = algorithm_config(fam, cfg.env(), cfg.batch, cfg.seed, cfg.envs_per_runner,
                                      dqn_envs_per_runner=cfg.dqn_envs_per_runner)
            algo = build_algorithm(with_rllib_sampling(config) if rllib else config, cfg.seed)
            runner = algo.env_runner
            assert (type(runner) is MultiAgentEnvRunner) if rllib else isinstance(runner, CountOnceEnvRunner)
            assert isinstance(runner.env.envs[0].unwrapped, ActionsMappedInEnv) is not rllib
            counts, weights = [], []
            for _ in range(2):
                r = algo.train()["env_runners"]
                counts.append((r["num_env_steps_sampled_lifetime"], r["num_episodes_lifetime"],
                               dict(r["num_agent_steps_sampled_lifetime"]), r["episode_return_mean"]))
                weights.append(np.concatenate([_weights(algo.get_module(a)) for a in fam.learners]))
            runs[rllib] = counts, np.stack(weights)
            algo.stop()
        assert runs[False][0] == runs[True][0]
        assert runs[False][0][-1][0] >= 2 * cfg.batch
        np.testing.assert_array_equal(runs[False][1], runs[True][1])
    finally:
        ray.shutdown()


# Builds the smoke PPO family and prints a digest of each learner's initial weights.
_INITIAL_WEIGHTS = """
import hashlib, ray
from jobs.market.rllib import build, start_ray
from jobs.market_rl_training.config import load
from models.market.policies import families
cfg = load("smoke")
ppo = next(f for f in families(cfg.agents, cfg.hyperparameters) if f.algorithm == "PPO")
start_ray()
algo = build(ppo, cfg.env(), cfg.batch, cfg.seed, cfg.envs_per_runner)
for a in sorted(ppo.learners):
    h = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in algo.get_module(a).parameters()))
    print(a, h.hexdigest())
algo.stop()
ray.shutdown()
"""


def test_initial_weights_do_not_depend_on_the_hash_seed() -> None:
    """The same seed gives the same run in every process: Python salts string hashes per process, so a set of
    learner names iterates in a different order, and RLlib built (and seeded the weights of) the modules in it."""
    def digests(hash_seed: str) -> list[str]:
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        order = subprocess.run([sys.executable, "-c", "print(list({'aggressive', 'adaptive'}))"], env=env,
                               capture_output=True, text=True, check=True).stdout
        out = subprocess.run([sys.executable, "-c", _INITIAL_WEIGHTS], env=env, capture_output=True, text=True,
                             cwd=Path(__file__).parents[1], timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return [order] + out.stdout.splitlines()[-2:]

    first, second = digests("0"), digests("3")
    assert first[0] != second[0]  # these two hash seeds do order the two learners differently
    assert first[1:] == second[1:] and len(set(first[1:])) == 2


@pytest.mark.parametrize("env_runners, copies", [(0, 1), (0, 8), (2, 8)])
def test_dqn_takes_one_update_per_episode_sampled_whatever_the_copies(env_runners: int, copies: int) -> None:
    """DQN samples whole 48-hour episodes in each market copy and takes one update of 32 transitions per 48
    sampled steps, as with one copy: RLlib's round-robin of sampling and updating (its training_intensity over
    its own count of samplers, which adds the driver beside remote runners, though the driver then samples
    nothing) must come out at one update per episode sampled."""
    from ray.rllib.algorithms.dqn.dqn import calculate_rr_weights

    from jobs.market.rllib import algorithm_config
    from jobs.market_rl_training.config import load
    from models.market.policies import families

    cfg = load("demo")
    dqn = next(f for f in families(cfg.agents, cfg.hyperparameters) if f.algorithm == "DQN")
    config = algorithm_config(dqn, cfg.env(), cfg.batch, cfg.seed, cfg.envs_per_runner, env_runners, copies)
    assert config.get_rollout_fragment_length() == cfg.episode_steps
    sampled = cfg.episode_steps * copies * max(env_runners, 1)  # steps of one sampling round
    assert calculate_rr_weights(config) == [1, sampled // cfg.episode_steps]
