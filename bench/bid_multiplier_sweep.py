"""How much a learned bidder could earn by the simplest policies its action allows: one constant multiplier on
its script's bids, whatever the hour and stage; and constant multipliers per lifecycle stage shaped by a click's
conversion odds in that stage (``by_stage_<ref>``).

``python bench/bid_multiplier_sweep.py``: for each learning advertiser of market_rl_training (on the medium
profile's market: 2,000 customers, a week of hours, the other advertisers scripted), plays the constant actions
log2 multiplier -1, -0.5, 0, +0.5, +1 (x0.5 to x2; 0 is the script) on every stage, and the stage-shaped ones
(log2 of cart rate x buy rate minus ref, for ref -6, -5, -4), on that profile's 20 verdict seeds, and
reports profit (revenue - spend) per week and spend next to the script's, paired over the seeds with 95%
intervals (the market's dice are common random numbers: the same opportunity has the same outcome whoever wins
it). A reference for the learned policies' verdicts. Writes bench/results/bid_multiplier_sweep.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from common import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="medium")
    args = parser.parse_args()
    from jobs.market_rl_training.config import load
    from models.common.intervals import t_interval
    from models.market.customers import BUY_RATE, CART_RATE
    from models.market.envs import N_STAGES
    from models.market.policies import evaluate_bidder

    cfg = load(args.profile)
    seeds = cfg.eval_seed_list("verdict")  # the seeds the learned bidders' verdicts are on
    out: dict[str, dict] = {}
    # Per stage, a click's odds of becoming a purchase (cart rate x buy rate): the scripts ignore them. Scaling each
    # stage's bids by them (relative to 2^ref, clipped to the action's x0.25..x4) is what a per-stage action can do
    # that no constant can; it reads the simulator's own rates, so it is a reference, not a rival.
    value = np.log2(CART_RATE * BUY_RATE)
    actions = {f"{a:+.1f}": np.full(N_STAGES, a, np.float32) for a in (-1.0, -0.5, 0.0, 0.5, 1.0)}
    actions |= {f"by_stage_{ref}": np.clip(value - ref, -2, 2).astype(np.float32) for ref in (-6, -5, -4)}
    for agent in cfg.agents:
        rows = {}
        for name, a in actions.items():
            df = evaluate_bidder(agent, lambda obs, a=a: np.tile(a, (len(obs), 1)), cfg.env(), seeds, cfg.eval_steps)
            learned, scripted = df[df["policy"] == "learned"], df[df["policy"] == "scripted"]
            diff = learned["profit"].to_numpy() - scripted["profit"].to_numpy()
            iv = t_interval(diff)
            rows[name] = {
                "multipliers": [round(float(m), 3) for m in 2.0 ** a],
                "profit": round(float(learned["profit"].mean()), 1),
                "profit_diff": round(float(iv["mean"]), 1), "profit_diff_lo": round(float(iv["lo"]), 1),
                "profit_diff_hi": round(float(iv["hi"]), 1),
                "spend_share": round(float(learned["spend"].sum() / scripted["spend"].sum()), 3)}
            print(agent, name, rows[name], flush=True)
        out[agent] = rows
    write_result("bid_multiplier_sweep", {"profile": args.profile, "seeds": len(seeds), "eval_steps": cfg.eval_steps,
                                          "customers": cfg.customers, "agents": out})


if __name__ == "__main__":
    main()
