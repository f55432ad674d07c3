"""Regret of Thompson sampling against uniform, greedy and epsilon-greedy budget allocation.

Demo settings of budget_bandits (50 segments, 28 days of legacy facts, 60 simulated
days, floor 0.2%, cap 5%/day, discount 0.97), one synthetic world per seed, 20 seeds;
95% t-intervals over seeds. ``python bench/bandit_regret.py``
"""

from __future__ import annotations

import time

import pandas as pd
from common import write_result

from jobs.budget_bandits.allocate import policy_settings
from jobs.budget_bandits.config import load
from jobs.budget_bandits.facts import synthetic_world
from models.bandits.simulation import simulate, summarise
from models.bandits.world import legacy_history


def main(seeds: int = 20) -> None:
    cfg = load("demo")
    t0 = time.perf_counter()
    daily = []
    for seed in range(seeds):
        c = load("demo", {"seed": seed})
        world = synthetic_world(c)
        facts = legacy_history(world, c.history_days, c.daily_budget, seed)
        res = simulate(lambda s, world=world: world, c.history_days, c.horizon_days, c.daily_budget, facts, [seed],
                       policy_settings(c, c.sim_draws), c.prior_alpha, c.prior_beta, c.discount)
        daily.append(res.daily)
    table = summarise(pd.concat(daily))
    write_result("bandit_regret", {
        "setting": f"{cfg.n_segments} segments, {cfg.history_days} days of facts, {cfg.horizon_days} simulated days, "
                   f"budget {cfg.daily_budget:.0f}/day, floor {cfg.floor}, cap {cfg.cap}, discount {cfg.discount}, "
                   f"{cfg.sim_draws} draws/day; one world per seed",
        "seeds": seeds, "seconds": round(time.perf_counter() - t0, 1),
        "policies": table.round(3).to_dict(orient="records"),
    })


if __name__ == "__main__":
    main()
