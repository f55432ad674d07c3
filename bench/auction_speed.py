"""Compiled second-price auctions with budgets and even pacing vs the one-at-a-time reference loop.

``python bench/auction_speed.py``: 5 advertisers; a timestep brings 10% of the customers
(1,000 auctions at 10k customers, 100,000 at 1M); each advertiser has a budget for 50
timesteps that covers about half of what it would win, paced evenly, so budgets bind
inside timesteps. The kernel runs on one core, so auctions/s are per core; the first call
(numba's compile or cache load) is left out of the timing and reported on its own.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from common import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from models.market.auction import AuctionRules, even_pacing, priorities, run_auctions, to_cents  # noqa: E402
from tests.auction_reference import reference_auctions  # noqa: E402

MEANS = np.log([0.5, 0.35, 0.6, 0.45, 0.55])


def simulate(n_per_step: int, steps: int, seed: int, rules: AuctionRules, loop: bool = False) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    demand = np.exp(MEANS + 0.18) * n_per_step / 5 * 100  # cents each would pay per step, roughly
    remaining = (0.5 * demand * steps).astype(np.int64)
    elapsed, auctions = 0.0, 0
    for t in range(steps):
        bids = to_cents(rng.lognormal(MEANS, 0.6, (n_per_step, 5)), rules)
        prio = priorities(n_per_step, 5, rules, rng)
        cap = even_pacing(remaining, steps - t)
        t0 = time.perf_counter()
        if loop:
            _, _, spend = reference_auctions(bids, cap, rules, prio)
            spent = np.asarray(spend)
        else:
            spent = run_auctions(bids, cap, rules, prio).spend
        elapsed += time.perf_counter() - t0
        remaining -= spent
        auctions += n_per_step
    return {"auctions": auctions, "seconds": round(elapsed, 4), "auctions_per_s": round(auctions / elapsed)}


def main() -> None:
    rules = AuctionRules()
    t0 = time.perf_counter()
    run_auctions(np.ones((1, 5), dtype=np.int64), np.ones(5, dtype=np.int64), rules, np.zeros((1, 5)))
    out: dict = {"first_call_seconds": round(time.perf_counter() - t0, 3)}
    for customers, steps in ((10_000, 200), (1_000_000, 20)):
        n = customers // 10
        fast = simulate(n, steps, 1, rules)
        entry = {"auctions_per_step": n, "compiled": fast}
        ref = simulate(n, max(2, steps // 20), 1, rules, loop=True)
        entry["reference_loop"] = ref
        entry["speedup_vs_loop"] = round(fast["auctions_per_s"] / ref["auctions_per_s"], 1)
        out[f"{customers}_customers"] = entry
        print(customers, entry, flush=True)
    # The same auctions with budgets that never bind: the cost of the rules alone.
    rng = np.random.default_rng(2)
    bids = to_cents(rng.lognormal(MEANS, 0.6, (100_000, 5)), rules)
    prio = priorities(100_000, 5, rules, rng)
    t0 = time.perf_counter()
    for _ in range(10):
        run_auctions(bids, np.full(5, 10**12), rules, prio)
    out["no_binding_budgets_100k_batch_auctions_per_s"] = round(1_000_000 / (time.perf_counter() - t0))
    write_result("auction_speed", {"advertisers": 5, "results": out,
                                   "target": ">= 100x the reference loop at 1k and 100k auctions per step, one core"})


if __name__ == "__main__":
    main()
