"""The RL market env's own step, timed without RLlib: milliseconds per env step, resets included.

``python bench/rl_env_step.py [--against PATH] [--pairs 3]``: the demo profile's training env (2,000 customers,
48-hour episodes, the PPO family's two learners against the scripted rest) steps 3,000 times with seeded random
actions, unseeded resets when an episode ends (as RLlib's auto-reset does); the best of 5 such runs after a
warm-up. ``--against PATH``: the same timing of another checkout of this project (e.g. a ``git worktree`` of an
older commit, its ``.venv`` linked), alternated with this one in fresh processes ``--pairs`` times, so this VM's
drift (up to 2x within minutes) hits both alike; each run also hashes the observations and rewards of its 3,000
steps, so a change meant to keep the env bit for bit shows whether it did. Writes bench/results/rl_env_step.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common import write_result

ROOT = Path(__file__).resolve().parent.parent
STEPS, REPEATS = 3000, 5

# Runs in a fresh interpreter with the checkout under test first on sys.path; prints one JSON line.
_TIMING = """
import hashlib, json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from jobs.market_rl_training.config import load
from models.market.policies import market_env
cfg = load("demo")
learners = ["aggressive", "adaptive"]
env = market_env({**cfg.env(), "learners": learners,
                  "rivals": [n for n in cfg.env()["advertisers"] if n not in learners]})
actions = [{a: r.uniform(-2, 2, 6).astype(np.float32) for a in learners}
           for r in [np.random.default_rng(0)] for _ in range(100)]
def run(n, digest=None):
    env.reset(seed=5)
    for t in range(n):
        obs, rew, _, trunc, _ = env.step(actions[t % 100])
        if digest is not None:
            for a in sorted(obs):
                digest.update(obs[a].tobytes()); digest.update(np.float64(rew[a]).tobytes())
        if all(trunc.values()):
            env.reset()
digest = hashlib.sha256()
run(int(sys.argv[2]), digest)  # warm-up (compilation) and the fingerprint
times = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    run(int(sys.argv[2]))
    times.append(time.perf_counter() - t0)
best = min(times)
print(json.dumps({"ms_per_step": round(best / int(sys.argv[2]) * 1e3, 4), "sha256": digest.hexdigest()[:16]}))
"""


def time_checkout(path: Path) -> dict[str, float | str]:
    """One fresh process timing the env of the checkout at ``path``."""
    out = subprocess.run([sys.executable, "-c", _TIMING, str(path), str(STEPS), str(REPEATS)], check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", type=Path, help="another checkout of this project to alternate with")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    checkouts = {"this": ROOT, **({"against": args.against.resolve()} if args.against else {})}
    runs: dict[str, list[dict]] = {name: [] for name in checkouts}
    for i in range(args.pairs if args.against else 1):
        for name, path in checkouts.items():
            runs[name].append(time_checkout(path))
            print(f"pair {i + 1}: {name} {runs[name][-1]}", flush=True)
    result = {"steps": STEPS, "best_of": REPEATS,
              **{name: {"checkout": str(path), "ms_per_step": [r["ms_per_step"] for r in runs[name]],
                        "sha256": sorted({r["sha256"] for r in runs[name]})} for name, path in checkouts.items()}}
    write_result("rl_env_step", result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
