"""Print what the latest runs produced, per pipeline (run by ``make demo`` after the DAGs).

``python -m jobs.report [avazu_ctr] [pricing_models] [budget_bandits] [banner_bandit_eval] [mmm]
[market_rl_training] [market_nightly]``
(default: all): avazu_ctr: MLflow run, model version, alias, AUC vs oracle; pricing_models:
classifier, multi-task and pricing figures, registered versions; budget_bandits: regret of
each policy against the oracle with intervals, and the plan; banner_bandit_eval: the
off-policy estimates table; mmm: holdout metrics, ROI recovery, optimiser uplift, what-if;
market_rl_training: learned vs scripted bidders and the pricing PPO; market_nightly: the
advertiser comparison, the CTR model's worth, pricing policies, learned bidders, the gate.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from jobs.common import mlflow_setup, mlflow_tracking_uri

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a clean report, not progress bars


def latest_task_run(experiment: str, task: str) -> Any:
    """The newest finished MLflow run of ``task`` in ``experiment``."""
    import mlflow

    exp_id = mlflow_setup(experiment)
    runs = mlflow.MlflowClient().search_runs(
        [exp_id], filter_string=f"tags.`airflow.task_id` = '{task}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    if not runs:
        raise LookupError(f"no finished {experiment}.{task} run in {mlflow_tracking_uri()}")
    return runs[0]


def latest_promotion(experiment: str = "avazu_ctr") -> dict[str, object]:
    """The newest finished evaluate_and_promote task run and its DAG run."""
    r = latest_task_run(experiment, "evaluate_and_promote")
    exp_id = r.info.experiment_id
    return {
        "experiment_id": exp_id,
        "parent_run_id": r.data.tags.get("mlflow.parentRunId"),
        "task_run_id": r.info.run_id,
        "airflow_run_id": r.data.tags.get("airflow.run_id"),
        "model": r.data.tags.get("registered_model"),
        "version": r.data.tags.get("registered_version"),
        "alias": r.data.tags.get("alias"),
        **{k: v for k, v in r.data.metrics.items()},
    }


def _has_rows(run: Any, path: str) -> bool:
    import mlflow

    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=path)
    with open(local) as f:
        return len(f.read().strip().splitlines()) > 1


def _artifact_csv(run: Any, path: str) -> Any:
    import mlflow
    import pandas as pd

    return pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=path))


def report_budget() -> None:
    """Regret per policy (expected conversions lost against the oracle) and the plan's head."""
    run = latest_task_run("budget_bandits", "simulate")
    table = _artifact_csv(run, "simulation/regret_summary.csv")
    print(f"\n=== budget_bandits: regret against the oracle ({run.data.tags.get('simulation.world')}, "
          f"{int(table['seeds'].iloc[0])} seeds, 95% intervals) ===")
    for r in table.itertuples():
        print(f"{r.policy:<15} regret {r.regret:9.1f} [{r.regret_lo:9.1f}, {r.regret_hi:9.1f}] conversions "
              f"= {r.regret_pct:5.1f}% of the oracle's   cost/conversion {r.cost_per_conv:6.2f}")
    plan = _artifact_csv(latest_task_run("budget_bandits", "allocate"), "plan/plan.csv")
    print(f"Plan for {plan['day'].iloc[0]}: top segments " + ", ".join(
        f"{r.segment_key} {100 * r.share:.1f}%" for r in plan.head(3).itertuples()))


def report_banner() -> None:
    """The off-policy evaluation table."""
    table = _artifact_csv(latest_task_run("banner_bandit_eval", "evaluate"), "ope/ope_results.csv")
    print("\n=== banner_bandit_eval: off-policy CTR estimates (95% intervals) ===")
    for r in table.itertuples():
        ref = f"   reference {r.reference:.4f} ({r.reference_kind})" if r.reference == r.reference else ""
        print(f"{r.source:<9} {r.policy:<29} on {r.log:<22} {r.estimator:<8} {r.estimate:.4f} "
              f"[{r.lo:.4f}, {r.hi:.4f}]{ref}")


def report_pricing() -> None:
    """Classifier and multi-task figures, the pricing policies, the registered versions."""
    clf = latest_task_run("pricing_models", "train_agent_classifier").data.metrics
    mt = latest_task_run("pricing_models", "train_multitask").data.metrics
    distill = latest_task_run("pricing_models", "distill")
    promo = latest_task_run("pricing_models", "evaluate_and_promote")
    print("\n=== pricing_models: latest run ===")
    print(f"Agent classifier  : ROC-AUC {clf['holdout_roc_auc']:.4f}, PR-AUC {clf['holdout_pr_auc']:.4f}, precision "
          f"{clf['holdout_precision']:.3f} / recall {clf['holdout_recall']:.3f} at {clf['holdout_threshold']:.2f}"
          + (f"; vs truth {clf['holdout_roc_auc_vs_truth']:.4f}, oracle {clf['oracle_auc']:.4f}" if "oracle_auc" in clf else ""))
    loko = {k.split(".", 1)[1]: v for k, v in clf.items() if k.startswith("loko_auc.")}
    if loko:
        print("Unseen agent kind : " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(loko.items())) + " (AUC, kind left out of training)")
    print(f"Multi-task model  : purchase AUC {mt['holdout_purchase_auc']:.4f}"
          + (f" (oracle {mt['oracle_purchase_auc']:.4f})" if "oracle_purchase_auc" in mt else "")
          + f", agent AUC {mt['holdout_agent_auc']:.4f} vs XGBoost {mt['xgboost_agent_auc']:.4f}")
    print(f"Distilled tree    : fidelity {distill.data.metrics['tree_fidelity']:.3f} "
          f"({distill.data.metrics['tree_fidelity_within_one_step']:.3f} within one grid step)")
    try:
        table = _artifact_csv(distill, "pricing/pricing_policies.csv")
    except Exception:  # no ground truth: no money figures
        table = None
    if table is not None:
        print(f"{'policy':<30} {'revenue/1000':>13} {'human conv':>11} {'agent leakage/1000':>19}")
        for r in table.itertuples():
            print(f"{r.policy:<30} {r.revenue_per_1000:13.0f} {r.human_conversion:11.3f} {r.margin_leakage_per_1000:19.0f}")
    print("Registered        : " + ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(promo.data.tags.items())
                                             if k.startswith("registered.")))


def report_mmm() -> None:
    """Holdout metrics at four levels, the ROI table (against the truth when known), optimiser uplift, what-if."""
    ev = latest_task_run("mmm", "evaluate")
    metrics = _artifact_csv(ev, "evaluate/holdout_metrics.csv")
    hold = metrics[metrics["period"] == "holdout"]
    print("\n=== mmm: holdout (the last weeks, never fitted), per aggregation level ===")
    for r in hold.itertuples():
        print(f"{r.level:<15} R2 {r.r2:6.3f}   MAPE {100 * r.mape:5.1f}%   wMAPE {100 * r.wmape:5.1f}%   ({r.groups} groups)")
    roi = _artifact_csv(ev, "evaluate/roi.csv")
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
    whatif = _artifact_csv(opt, "optimise/whatif.csv")
    for r in whatif[whatif["scenario"] != "current"].itertuples():
        print(f"What-if {r.scenario:<36} value change {r.delta_value:+12,.0f} [{r.delta_value_lo:+12,.0f}, {r.delta_value_hi:+12,.0f}]")


def report_market() -> None:
    """The advertiser comparison, what the CTR model is worth to the focal advertiser, pricing policies, the gate."""
    cmp_run = latest_task_run("market_nightly", "compare")
    adv = _artifact_csv(cmp_run, "compare/advertisers.csv")
    scenario, source = cmp_run.data.tags.get("headline.scenario"), cmp_run.data.tags.get("headline.ctr")
    t = adv[(adv["scenario"] == scenario) & (adv["source"] == source)]
    print(f"\n=== market_nightly: advertisers ({scenario}, pCTR of the focal advertiser from {source}; 95% intervals) ===")
    for r in t.itertuples():
        print(f"{r.advertiser:<16} ROAS {r.roas:5.2f} [{r.roas_lo:5.2f}, {r.roas_hi:5.2f}]   revenue {r.revenue:9,.0f}   "
              f"spend {r.spend:8,.0f}   CTR {r.ctr:.3f}   win rate {r.win_rate:.3f}   share {r.market_share:.3f}")
    value = _artifact_csv(cmp_run, "compare/ctr_value.csv")
    for r in value.itertuples():
        print(f"CTR model worth to {r.advertiser} ({r.scenario}, {r.source} vs none): profit "
              f"{r.profit_gain_mean:+,.0f} [{r.profit_gain_lo:+,.0f}, {r.profit_gain_hi:+,.0f}] per run")
    pricing = _artifact_csv(cmp_run, "compare/pricing.csv")
    for r in pricing[pricing["scenario"] == pricing["scenario"].iloc[0]].itertuples():
        print(f"pricing {r.policy:<28} revenue {r.revenue:9,.0f} [{r.revenue_lo:9,.0f}, {r.revenue_hi:9,.0f}]   "
              f"human conversion {r.human_conversion:.3f}   leakage {r.leakage:7,.0f}")
    learned = _artifact_csv(cmp_run, "compare/learned_bidders.csv") if _has_rows(cmp_run, "compare/learned_bidders.csv") else None
    if learned is None:
        print("Learned bidders: none registered yet (market_rl_training registers bidder_<agent>)")
    else:
        for r in learned.itertuples():
            print(f"{r.policy:<8} {r.agent:<16} ROAS {r.roas:5.2f} [{r.roas_lo:5.2f}, {r.roas_hi:5.2f}]   "
                  f"revenue {r.revenue:8,.0f}   spend {r.spend:8,.0f}")
    gate = latest_task_run("market_nightly", "regression_gate")
    print(f"Regression gate: {gate.data.tags.get('regression', '?')}")


def report_rl() -> None:
    """Learned bidders against the scripts they replace, and the pricing PPO against the baselines."""
    ev = latest_task_run("market_rl_training", "evaluate_bidders")
    table = _artifact_csv(ev, "evaluation/bidders.csv")
    print("\n=== market_rl_training: learned vs scripted ROAS (same seeds, same daily budget, 95% intervals) ===")
    for r in table.itertuples():
        print(f"{r.agent:<13} {r.algorithm:<5} learned {r.learned_roas:5.2f} (spend {r.learned_spend:7,.0f})   scripted "
              f"{r.scripted_roas:5.2f} (spend {r.scripted_spend:7,.0f})   difference {r.roas_diff:+5.2f} "
              f"[{r.roas_diff_lo:+5.2f}, {r.roas_diff_hi:+5.2f}]: {r.verdict} its script")
    pricing = _artifact_csv(latest_task_run("market_rl_training", "train_pricing"), "pricing/pricing_eval.csv")
    for r in pricing.itertuples():
        print(f"pricing {r.policy:<11} revenue {r.revenue_mean:9,.0f} [{r.revenue_lo:9,.0f}, {r.revenue_hi:9,.0f}]   "
              f"human conversion {r.human_conversion_mean:.3f}   leakage {r.leakage_mean:6,.0f}")


def main(argv: list[str] | None = None) -> int:
    wanted = (argv if argv is not None else sys.argv[1:]) or ["avazu_ctr", "pricing_models", "budget_bandits",
                                                              "banner_bandit_eval", "mmm", "market_rl_training",
                                                              "market_nightly"]
    sections = {"avazu_ctr": report_avazu, "pricing_models": report_pricing, "budget_bandits": report_budget,
                "banner_bandit_eval": report_banner, "mmm": report_mmm, "market_rl_training": report_rl,
                "market_nightly": report_market}
    for name in wanted:
        if name not in sections:
            print(f"unknown pipeline {name!r}; known: {list(sections)}", file=sys.stderr)
            return 2
        sections[name]()
    return 0


def report_avazu() -> None:
    """MLflow run, registered version and alias, holdout AUC next to the oracle's."""
    info = latest_promotion()
    ui = os.environ.get("MLFLOW_UI_URL", "http://127.0.0.1:5000")
    print("\n=== avazu_ctr: latest run ===")
    print(f"MLflow store      : {mlflow_tracking_uri()}")
    print(f"Airflow run       : {info['airflow_run_id']}")
    print(f"MLflow DAG run    : {info['parent_run_id']}  ({ui}/#/experiments/{info['experiment_id']}/runs/{info['parent_run_id']})")
    print(f"Registered model  : {info['model']} version {info['version']} -> alias @{info['alias']}")
    auc, oracle = info.get("holdout_auc"), info.get("oracle_auc")
    line = f"Holdout AUC       : {auc:.4f}"
    if oracle is not None:
        line += f"   oracle AUC {oracle:.4f}   gap {oracle - auc:.4f}"
    if info.get("champion_holdout_auc") is not None:
        line += f"   (previous champion on the same holdout: {info['champion_holdout_auc']:.4f})"
    print(line)


if __name__ == "__main__":
    sys.exit(main())
