"""``python -m jobs.report market_nightly``: what the latest market_nightly run produced, printed for a terminal."""

from __future__ import annotations

from jobs.report import artifact_csv, has_rows, latest_task_run


def print_latest() -> None:
    """The advertiser comparison, what the CTR model is worth to the focal advertiser, pricing policies, the gate."""
    cmp_run = latest_task_run("market_nightly", "compare")
    adv = artifact_csv(cmp_run, "compare/advertisers.csv")
    scenario, source = cmp_run.data.tags.get("headline.scenario"), cmp_run.data.tags.get("headline.ctr")
    t = adv[(adv["scenario"] == scenario) & (adv["source"] == source)]
    print(
        f"\n=== market_nightly: advertisers ({scenario}, pCTR of the focal advertiser from {source}; 95% intervals) ==="
    )
    for r in t.itertuples():
        print(
            f"{r.advertiser:<16} ROAS {r.roas:5.2f} [{r.roas_lo:5.2f}, {r.roas_hi:5.2f}]   revenue {r.revenue:9,.0f}   "
            f"spend {r.spend:8,.0f}   CTR {r.ctr:.3f}   win rate {r.win_rate:.3f}   share {r.market_share:.3f}"
        )
    value = artifact_csv(cmp_run, "compare/ctr_value.csv")
    for r in value.itertuples():
        print(f"CTR model worth to {r.advertiser} ({r.scenario}, {r.source} vs none): profit "
              f"{r.profit_gain_mean:+,.0f} [{r.profit_gain_lo:+,.0f}, {r.profit_gain_hi:+,.0f}] per run")
    pricing = artifact_csv(cmp_run, "compare/pricing.csv")
    for r in pricing[pricing["scenario"] == pricing["scenario"].iloc[0]].itertuples():
        print(f"pricing {r.policy:<28} revenue {r.revenue:9,.0f} [{r.revenue_lo:9,.0f}, {r.revenue_hi:9,.0f}]   "
              f"human conversion {r.human_conversion:.3f}   leakage {r.leakage:7,.0f}")
    learned = (
        artifact_csv(cmp_run, "compare/learned_bidders.csv")
        if has_rows(cmp_run, "compare/learned_bidders.csv")
        else None
    )
    if learned is None:
        print("Learned bidders: none registered yet (market_rl_training registers bidder_<agent>)")
    else:
        for r in learned.itertuples():
            print(f"{r.policy:<8} {r.agent:<16} ROAS {r.roas:5.2f} [{r.roas_lo:5.2f}, {r.roas_hi:5.2f}]   "
                  f"revenue {r.revenue:8,.0f}   spend {r.spend:8,.0f}")
    gate = latest_task_run("market_nightly", "regression_gate")
    print(f"Regression gate: {gate.data.tags.get('regression', '?')}")
