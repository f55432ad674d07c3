"""``python -m jobs.report market_rl_training``: what the latest market_rl_training run produced,
printed for a terminal."""

from __future__ import annotations

from jobs.report import artifact_csv, latest_task_run


def print_latest() -> None:
    """Learned bidders against the scripts they replace, and the pricing PPO against the baselines."""
    ev = latest_task_run("market_rl_training", "evaluate_bidders")
    table = artifact_csv(ev, "evaluation/bidders.csv")
    print("\n=== market_rl_training: learned vs scripted ROAS (same seeds, same daily budget, 95% intervals) ===")
    for r in table.itertuples():
        print(
            f"{r.agent:<13} {r.algorithm:<5} learned {r.learned_roas:5.2f} (spend {r.learned_spend:7,.0f})   scripted "
            f"{r.scripted_roas:5.2f} (spend {r.scripted_spend:7,.0f})   difference {r.roas_diff:+5.2f} "
            f"[{r.roas_diff_lo:+5.2f}, {r.roas_diff_hi:+5.2f}]: {r.verdict} its script"
        )
    pricing = artifact_csv(latest_task_run("market_rl_training", "train_pricing"), "pricing/pricing_eval.csv")
    for r in pricing.itertuples():
        print(f"pricing {r.policy:<11} revenue {r.revenue_mean:9,.0f} [{r.revenue_lo:9,.0f}, {r.revenue_hi:9,.0f}]   "
              f"human conversion {r.human_conversion_mean:.3f}   leakage {r.leakage_mean:6,.0f}")
