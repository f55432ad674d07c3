"""A fixed string-hash salt for the processes that train: RLlib samples a family's learners in the order of a Python
set of their names, which the per-process salt changes, so a PPO family of two learners trained differently from
one run to the next (jobs/market/rllib.py). The salt is read when the interpreter starts: a process without one
starts again with it."""

from __future__ import annotations

import os
import sys


def run_with_fixed_hash_seed(argv: list[str]) -> None:
    """Replace this process with ``python *argv`` under PYTHONHASHSEED=0 unless a salt is set already."""
    if os.environ.get("PYTHONHASHSEED"):
        return
    print(f"PYTHONHASHSEED unset; running {' '.join(argv)} again with PYTHONHASHSEED=0", file=sys.stderr)
    os.execve(sys.executable, [sys.executable, *argv], {**os.environ, "PYTHONHASHSEED": "0"})
