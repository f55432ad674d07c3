"""``python -m jobs.report banner_bandit_eval``: what the latest banner_bandit_eval run produced,
printed for a terminal."""

from __future__ import annotations

from jobs.report import artifact_csv, latest_task_run


def print_latest() -> None:
    """The off-policy evaluation table."""
    table = artifact_csv(latest_task_run("banner_bandit_eval", "evaluate"), "ope/ope_results.csv")
    print("\n=== banner_bandit_eval: off-policy CTR estimates (95% intervals) ===")
    for r in table.itertuples():
        ref = f"   reference {r.reference:.4f} ({r.reference_kind})" if r.reference == r.reference else ""
        print(f"{r.source:<9} {r.policy:<29} on {r.log:<22} {r.estimator:<8} {r.estimate:.4f} "
              f"[{r.lo:.4f}, {r.hi:.4f}]{ref}")
