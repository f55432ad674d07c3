"""``python -m jobs.report budget_bandits``: what the latest budget_bandits run produced, printed for a terminal."""

from __future__ import annotations

from jobs.report import artifact_csv, latest_task_run


def print_latest() -> None:
    """Regret per policy (expected conversions lost against the oracle) and the plan's head."""
    run = latest_task_run("budget_bandits", "simulate")
    table = artifact_csv(run, "simulation/regret_summary.csv")
    print(f"\n=== budget_bandits: regret against the oracle ({run.data.tags.get('simulation.world')}, "
          f"{int(table['seeds'].iloc[0])} seeds, 95% intervals) ===")
    for r in table.itertuples():
        print(f"{r.policy:<15} regret {r.regret:9.1f} [{r.regret_lo:9.1f}, {r.regret_hi:9.1f}] conversions "
              f"= {r.regret_pct:5.1f}% of the oracle's   cost/conversion {r.cost_per_conv:6.2f}")
    plan = artifact_csv(latest_task_run("budget_bandits", "allocate"), "plan/plan.csv")
    print(f"Plan for {plan['day'].iloc[0]}: top segments " + ", ".join(
        f"{r.segment_key} {100 * r.share:.1f}%" for r in plan.head(3).itertuples()))
