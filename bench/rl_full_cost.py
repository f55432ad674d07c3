"""What the market_rl_training ``full`` profile costs, extrapolated from measured iterations.

``python bench/rl_full_cost.py [--iterations 2]``: for each algorithm family, builds its RLlib Algorithm on the
``full`` profile's market (10,000 customers, 168-hour episodes, 4,000 env steps per iteration) and times
``--iterations`` training iterations at each curriculum complexity after one warm-up iteration, then one
evaluation of a learner on one seed of ``eval_steps`` hours (learned and scripted). The whole profile's cost is
the sum over families of curriculum iterations x seconds per iteration, league rounds x iterations, and its
evaluations (every ``eval_every`` iterations, ``eval_seeds`` seeds per learner). Writes
bench/results/rl_full_cost.json. Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2)
    args = parser.parse_args()
    import ray

    from jobs.market.rllib import act, build, set_complexity, start_ray
    from jobs.market_rl_training.config import load
    from models.market.policies import evaluate_bidder, families

    cfg = load("full")
    start_ray()
    out: dict[str, dict] = {}
    try:
        for fam in families(cfg.agents, cfg.hyperparameters):
            algo = build(fam, cfg.env(), cfg.batch, cfg.seed, cfg.envs_per_runner,
                         dqn_envs_per_runner=cfg.dqn_envs_per_runner)
            algo.train()  # warm-up: the replay buffer's first fill, compilation, allocations
            per_stage = {}
            for stage in cfg.stages():
                set_complexity(algo, stage.complexity)
                t0 = time.perf_counter()
                for _ in range(args.iterations):
                    algo.train()
                per_stage[stage.name] = round((time.perf_counter() - t0) / args.iterations, 2)
                print(fam.algorithm, stage.name, per_stage[stage.name], "s per iteration", flush=True)
            module = algo.get_module(fam.learners[0])
            t0 = time.perf_counter()
            evaluate_bidder(fam.learners[0], lambda obs, m=module: act(m, obs, m.action_space), cfg.env(), [0],
                            cfg.eval_steps)
            eval_s = time.perf_counter() - t0  # one seed, learned and scripted
            algo.stop()
            curriculum_s = sum(per_stage[s.name] * s.iterations for s in cfg.stages())
            evals = sum(s.iterations for s in cfg.stages()) // cfg.eval_every
            # Per league round: its iterations at full complexity, and each learner played before and after on
            # the selection seeds (the learned side only: half of the measured learned + scripted seed).
            league_s = cfg.league_rounds * (cfg.league_iterations * per_stage[cfg.stages()[-1].name]
                                            + len(fam.learners) * 2 * cfg.eval_seeds * eval_s / 2)
            out[fam.algorithm] = {
                "learners": list(fam.learners), "seconds_per_iteration": per_stage,
                "evaluation_one_seed_s": round(eval_s, 2),
                "curriculum_s": round(curriculum_s),
                # Curriculum evaluations counted as learned + scripted per seed: an upper bound.
                "evaluations_s": round(evals * len(fam.learners) * cfg.eval_seeds * eval_s),
                "league_s": round(league_s),
            }
    finally:
        ray.shutdown()
    total = sum(v["curriculum_s"] + v["evaluations_s"] + v["league_s"] for v in out.values())
    write_result("rl_full_cost", {
        "profile": "full", "iterations_timed_per_stage": args.iterations,
        "settings": {"customers": cfg.customers, "batch": cfg.batch, "episode_steps": cfg.episode_steps,
                     "iterations_per_stage": [s.iterations for s in cfg.stages()], "eval_every": cfg.eval_every,
                     "eval_seeds": cfg.eval_seeds, "eval_steps": cfg.eval_steps,
                     "league": [cfg.league_rounds, cfg.league_iterations]},
        "families": out, "bidders_total_hours": round(total / 3600, 2),
        "note": "extrapolated from the timed iterations; the pricing PPO (100k steps) comes on top",
    })


if __name__ == "__main__":
    main()
