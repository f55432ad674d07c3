"""``python -m jobs.report market_rl_training``: what the latest market_rl_training run produced,
printed for a terminal."""

from __future__ import annotations

from jobs.market_rl_training.train import says_of
from jobs.report import artifact_csv, latest_task_run


def print_latest() -> None:
    """Learned bidders against the scripts they replace, and the pricing PPO against the baselines."""
    ev = latest_task_run("market_rl_training", "evaluate_bidders")
    table = artifact_csv(ev, "evaluation/bidders.csv")
    print("\n=== market_rl_training: learned vs scripted (same seeds, same daily budget, 95% intervals) ===")
    for r in table.itertuples():
        print(
            f"{r.agent:<13} {r.algorithm:<5} profit {r.profit_diff:+8,.0f} [{r.profit_diff_lo:+8,.0f}, "
            f"{r.profit_diff_hi:+8,.0f}] on {r.spend_share:4.0%} of the script's spend   ROAS {r.learned_roas:5.2f} "
            f"vs {r.scripted_roas:5.2f}: {says_of(r.verdict)}"
        )
    pricing = artifact_csv(latest_task_run("market_rl_training", "train_pricing"), "pricing/pricing_eval.csv")
    for r in pricing.itertuples():
        print(f"pricing {r.policy:<11} revenue {r.revenue_mean:9,.0f} [{r.revenue_lo:9,.0f}, {r.revenue_hi:9,.0f}]   "
              f"human conversion {r.human_conversion_mean:.3f}   leakage {r.leakage_mean:6,.0f}")
