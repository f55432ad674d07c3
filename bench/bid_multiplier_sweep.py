"""How much a learned bidder could earn by the simplest policy its action allows: one constant multiplier on
its script's bids, whatever the hour.

``python bench/bid_multiplier_sweep.py``: for each learning advertiser of market_rl_training (on the medium
profile's market: 2,000 customers, a week of hours, the other advertisers scripted), plays the constant actions
log2 multiplier -1, -0.5, 0, +0.5, +1 (x0.5 to x2; 0 is the script) on that profile's 20 verdict seeds, and
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
    from models.market.policies import evaluate_bidder

    cfg = load(args.profile)
    seeds = cfg.eval_seed_list("verdict")  # the seeds the learned bidders' verdicts are on
    out: dict[str, dict] = {}
    for agent in cfg.agents:
        rows = {}
        for a in (-1.0, -0.5, 0.0, 0.5, 1.0):
            df = evaluate_bidder(agent, lambda obs, a=a: np.full((len(obs), 1), a, np.float32), cfg.env(), seeds,
                                 cfg.eval_steps)
            learned, scripted = df[df["policy"] == "learned"], df[df["policy"] == "scripted"]
            diff = learned["profit"].to_numpy() - scripted["profit"].to_numpy()
            iv = t_interval(diff)
            rows[f"{a:+.1f}"] = {
                "multiplier": round(2 ** a, 3), "profit": round(float(learned["profit"].mean()), 1),
                "profit_diff": round(float(iv["mean"]), 1), "profit_diff_lo": round(float(iv["lo"]), 1),
                "profit_diff_hi": round(float(iv["hi"]), 1),
                "spend_share": round(float(learned["spend"].sum() / scripted["spend"].sum()), 3)}
            print(agent, a, rows[f"{a:+.1f}"], flush=True)
        out[agent] = rows
    write_result("bid_multiplier_sweep", {"profile": args.profile, "seeds": len(seeds), "eval_steps": cfg.eval_steps,
                                          "customers": cfg.customers, "agents": out})


if __name__ == "__main__":
    main()
