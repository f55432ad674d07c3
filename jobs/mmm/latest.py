"""``python -m jobs.report mmm``: what the latest mmm run produced, printed for a terminal."""

from __future__ import annotations

from jobs.report import artifact_csv, latest_task_run


def print_latest() -> None:
    """Holdout metrics at four levels, the ROI table (against the truth when known), optimiser uplift, what-if."""
    ev = latest_task_run("mmm", "evaluate")
    metrics = artifact_csv(ev, "evaluate/holdout_metrics.csv")
    hold = metrics[metrics["period"] == "holdout"]
    print("\n=== mmm: holdout (the last weeks, never fitted), per aggregation level ===")
    for r in hold.itertuples():
        print(f"{r.level:<15} R2 {r.r2:6.3f}   MAPE {100 * r.mape:5.1f}%   "
              f"wMAPE {100 * r.wmape:5.1f}%   ({r.groups} groups)")
    roi = artifact_csv(ev, "evaluate/roi.csv")
    truth = "true_roi" in roi.columns
    print("ROI per channel (90% intervals)" + (" against the truth:" if truth else ":"))
    for r in roi.itertuples():
        line = f"{r.channel:<19} ROI {r.roi:5.2f} [{r.roi_lo:5.2f}, {r.roi_hi:5.2f}]"
        if truth:
            line += f"   true {r.true_roi:5.2f}   error {r.error_pct:+6.1f}%   {'covered' if r.covered else 'MISSED'}"
        print(line)
    if truth:
        m = ev.data.metrics
        print(f"mean |ROI error| {m['recovery_mean_abs_roi_error_pct']:.1f}% over channels, "
              f"{m['recovery_identified_mean_abs_roi_error_pct']:.1f}% with the collinear pair as one; coverage "
              f"{m['recovery_coverage']:.0%} / {m['recovery_identified_coverage']:.0%}")
    opt = latest_task_run("mmm", "optimise")
    u = {k.removeprefix("uplift_"): v for k, v in opt.data.metrics.items() if k.startswith("uplift_")}
    print(f"Optimiser: budget {u['budget']:,.0f} per quarter, sales value uplift {u['pct']:.2f}% "
          f"[{u['pct_lo']:.2f}, {u['pct_hi']:.2f}] = {u['value']:,.0f} over today's split")
    whatif = artifact_csv(opt, "optimise/whatif.csv")
    for r in whatif[whatif["scenario"] != "current"].itertuples():
        print(f"What-if {r.scenario:<36} value change {r.delta_value:+12,.0f} "
              f"[{r.delta_value_lo:+12,.0f}, {r.delta_value_hi:+12,.0f}]")
