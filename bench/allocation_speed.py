"""Thompson allocation for 1,000 segments x 10,000 posterior draws, plus the pacing projection.

Target: under 1 s. ``python bench/allocation_speed.py``
"""

from __future__ import annotations

import time

import numpy as np
from common import write_result

from models.bandits.allocation import project_shares
from models.bandits.thompson import thompson_shares


def main(n_segments: int = 1000, n_draws: int = 10_000, repeats: int = 5) -> None:
    rng = np.random.default_rng(0)
    alpha = rng.uniform(1, 60, n_segments)
    beta = rng.uniform(50, 900, n_segments)
    previous = np.full(n_segments, 1.0 / n_segments)
    draw_s, project_s = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        shares = thompson_shares(alpha, beta, n_draws, np.random.default_rng(r))
        t1 = time.perf_counter()
        plan = project_shares(shares, floor=0.2 / n_segments, cap=0.002, previous=previous)
        t2 = time.perf_counter()
        draw_s.append(t1 - t0)
        project_s.append(t2 - t1)
    assert abs(plan.sum() - 1) < 1e-9
    write_result("allocation_speed", {
        "target": "< 1 s for 1,000 segments x 10,000 draws",
        "segments": n_segments, "draws": n_draws,
        "thompson_best_s": round(min(draw_s), 3), "projection_s": round(min(project_s), 4),
        "total_best_s": round(min(d + p for d, p in zip(draw_s, project_s, strict=True)), 3),
        "all_thompson_s": [round(x, 3) for x in draw_s],
    })


if __name__ == "__main__":
    main()
