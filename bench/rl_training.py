"""Learning bidders and the pricing PPO on this machine: the market_rl_training pipeline, demo profile.

``python bench/rl_training.py [--profile demo]``: runs the pipeline without Airflow in a fresh
data root and MLflow store (under /tmp), then records env steps per second during training,
wall time per curriculum stage and algorithm, the learned-vs-scripted verdicts (profit, ROAS,
spend share) with 95% intervals over the evaluation seeds, the league rounds' gains, and the
pricing PPO against the baselines. Writes
bench/results/rl_training.json (rl_training_<profile>.json for another profile: ``--profile medium`` gives
the README's verdicts).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from common import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jobs.hashseed import run_with_fixed_hash_seed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="demo")
    args = parser.parse_args()
    run_with_fixed_hash_seed([__file__, *sys.argv[1:]])
    root = Path(tempfile.mkdtemp(prefix="rl_bench_"))
    os.environ.update({"PLATFORM_DATA_DIR": str(root / "data"), "PLATFORM_MLFLOW_DIR": str(root / "mlflow"),
                       "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    from jobs.market_rl_training.config import load
    from jobs.runner import run_pipeline

    t0 = time.perf_counter()
    state = run_pipeline("market_rl_training", args.profile, {})
    cfg = load(args.profile)
    stages = cfg.stages()
    write_result(
        "rl_training" if args.profile == "demo" else f"rl_training_{args.profile}",
        {
            "profile": args.profile,
            "settings": {
                "customers": cfg.customers,
                "episode_steps": cfg.episode_steps,
                "batch": cfg.batch,
                "iterations_per_stage": [s.iterations for s in stages],
                "eval_seeds": cfg.eval_seeds, "verdict_seeds": cfg.verdict_seeds,
                "eval_steps": cfg.eval_steps,
                "pricing_timesteps": cfg.pricing_timesteps,
                "league_rounds": cfg.league_rounds,
                "league_iterations": cfg.league_iterations,
            },
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "env_steps_per_s_training": state["env_steps_per_s"],
            "stage_seconds": state["stage_seconds"],
            "bidders": [
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in state["bidder_eval"]
            ],
            "pricing": [
                {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in state["pricing_eval"]
            ],
            "pricing_variant": state["pricing_variant"],
            "pricing_vs_elasticity": {k: (round(v, 1) if isinstance(v, float) else v)
                                      for k, v in state["pricing_verdict"].items()},
            "league": [
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in state["league"]
            ],
        },
    )


if __name__ == "__main__":
    main()
