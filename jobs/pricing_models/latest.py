"""``python -m jobs.report pricing_models``: what the latest pricing_models run produced, printed for a terminal."""

from __future__ import annotations

from jobs.report import artifact_csv, latest_task_run


def print_latest() -> None:
    """Classifier and multi-task figures, the pricing policies, the registered versions."""
    clf = latest_task_run("pricing_models", "train_agent_classifier").data.metrics
    mt = latest_task_run("pricing_models", "train_multitask").data.metrics
    distill = latest_task_run("pricing_models", "distill")
    promo = latest_task_run("pricing_models", "evaluate_and_promote")
    print("\n=== pricing_models: latest run ===")
    print(
        f"Agent classifier  : ROC-AUC {clf['holdout_roc_auc']:.4f}, PR-AUC {clf['holdout_pr_auc']:.4f}, precision "
        f"{clf['holdout_precision']:.3f} / recall {clf['holdout_recall']:.3f} at {clf['holdout_threshold']:.2f}"
        + (
            f"; vs truth {clf['holdout_roc_auc_vs_truth']:.4f}, oracle {clf['oracle_auc']:.4f}"
            if "oracle_auc" in clf
            else ""
        )
    )
    loko = {k.split(".", 1)[1]: v for k, v in clf.items() if k.startswith("loko_auc.")}
    if loko:
        print(
            "Unseen agent kind : "
            + ", ".join(f"{k} {v:.3f}" for k, v in sorted(loko.items()))
            + " (AUC, kind left out of training)"
        )
    print(f"Multi-task model  : purchase AUC {mt['holdout_purchase_auc']:.4f}"
          + (f" (oracle {mt['oracle_purchase_auc']:.4f})" if "oracle_purchase_auc" in mt else "")
          + f", agent AUC {mt['holdout_agent_auc']:.4f} vs XGBoost {mt['xgboost_agent_auc']:.4f}")
    print(f"Distilled tree    : fidelity {distill.data.metrics['tree_fidelity']:.3f} "
          f"({distill.data.metrics['tree_fidelity_within_one_step']:.3f} within one grid step)")
    try:
        table = artifact_csv(distill, "pricing/pricing_policies.csv")
    except Exception:  # no ground truth: no money figures
        table = None
    if table is not None:
        print(f"{'policy':<30} {'revenue/1000':>13} {'human conv':>11} {'agent leakage/1000':>19}")
        for r in table.itertuples():
            print(f"{r.policy:<30} {r.revenue_per_1000:13.0f} {r.human_conversion:11.3f} "
                  f"{r.margin_leakage_per_1000:19.0f}")
    print("Registered        : " + ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(promo.data.tags.items())
                                             if k.startswith("registered.")))
