"""One training iteration of each bidder family, timed, and where its time goes; optionally against a variant of
the settings, interleaved in the same process so the VM's drift (up to 2x here within minutes) hits both alike.

``python bench/rl_iteration.py [--profile demo] [--iterations 6] [--variant '{"dqn_envs_per_runner": 1}']``:
per family (PPO, DQN, APPO), builds the Algorithm on the full-complexity market, trains one warm-up iteration,
then ``--iterations`` timed ones (alternating with the variant's Algorithm when one is given) and records the
median seconds per iteration, env steps per second, and RLlib's own timers of sampling and learning (their
running means). ``--variant`` is JSON merged into the profile's settings (nested dicts merge), e.g.
``'{"hyperparameters": {"PPO": {"hidden": [256, 256]}}}'``. ``--rllib-sampling``: the variant samples as RLlib
does by default (its env runner and action normalisation, jobs.market.rllib.with_rllib_sampling) instead of the
pipeline's lighter sampling (jobs.market.sampling); without ``--variant`` it is the profile's settings so.
Writes bench/results/rl_iteration.json (``rl_iteration_variant.json`` with a variant).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from common import interleaved_iterations, rllib_timers, write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jobs.hashseed import run_with_fixed_hash_seed  # noqa: E402


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, nested dicts key by key."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--variant", default="", help="JSON merged into the profile's settings")
    parser.add_argument("--rllib-sampling", action="store_true", help="the variant samples as RLlib does by default")
    args = parser.parse_args()
    run_with_fixed_hash_seed([__file__, *sys.argv[1:]])
    import ray

    from jobs.market.rllib import algorithm_config, build_algorithm, set_complexity, start_ray, with_rllib_sampling
    from jobs.market_rl_training.config import RlConfig, load
    from models.market.policies import families

    cfg = load(args.profile)
    configs: dict[str, RlConfig] = {"profile": cfg}
    if args.variant:
        variant = json.loads(args.variant)
        # The profile's nested settings as plain dicts (they are frozen), with the variant's keys merged in.
        thawed = {k: json.loads(json.dumps(getattr(cfg, k), default=dict)) for k in variant}
        configs["variant"] = load(args.profile, merged(thawed, variant))
    elif args.rllib_sampling:
        configs["variant"] = cfg
    variant_name = args.variant or ("rllib sampling" if args.rllib_sampling else "")
    if args.variant and args.rllib_sampling:
        variant_name += " with rllib sampling"
    start_ray()
    rows = []
    try:
        for fam in families(cfg.agents, cfg.hyperparameters):
            algos = {}
            for name, c in configs.items():
                f = next(x for x in families(c.agents, c.hyperparameters) if x.algorithm == fam.algorithm)
                config = algorithm_config(f, c.env(), c.batch, c.seed, c.envs_per_runner,
                                          dqn_envs_per_runner=c.dqn_envs_per_runner)
                if name == "variant" and args.rllib_sampling:
                    config = with_rllib_sampling(config)
                algo = build_algorithm(config, c.seed)
                set_complexity(algo, 1.0)
                algo.train()  # warm-up: compilation, the replay buffer's first fill, allocations
                algos[name] = algo
            seconds, last = interleaved_iterations(algos, args.iterations, fam.algorithm)
            for name, algo in algos.items():
                median = statistics.median(seconds[name])
                rows.append({"family": fam.algorithm, "settings": name, "seconds_median": round(median, 3),
                             "seconds": [round(s, 3) for s in seconds[name]],
                             "env_steps_per_s": round(configs[name].batch / median, 1), **rllib_timers(last[name])})
                algo.stop()
    finally:
        ray.shutdown()
    write_result("rl_iteration_variant" if variant_name else "rl_iteration",
                 {"profile": args.profile, "batch": cfg.batch, "envs_per_runner": cfg.envs_per_runner,
                  "dqn_envs_per_runner": cfg.dqn_envs_per_runner, "variant": variant_name or None,
                  "iterations": args.iterations, "families": rows})
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
