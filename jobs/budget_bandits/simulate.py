"""simulate: Thompson sampling against uniform, greedy and epsilon-greedy, and the oracle, over many seeds."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from jobs.budget_bandits.allocate import policy_settings
from jobs.budget_bandits.config import BudgetConfig
from jobs.budget_bandits.plots import allocation_png, regret_png
from jobs.paths import RunContext, atomic_path
from jobs.progress import Progress
from models.bandits.simulation import SegmentPosterior, simulate, summarise, world_from_posterior
from models.bandits.world import SegmentWorld

log = logging.getLogger(__name__)


def truth_world(truth_path: str) -> SegmentWorld:
    """The synthetic world saved by ingest_facts (days x segments)."""
    t = pd.read_parquet(truth_path)
    keys = t["segment_key"].drop_duplicates().to_numpy(dtype=object)
    shape = (-1, keys.size)
    return SegmentWorld(keys, t["true_cvr"].to_numpy().reshape(shape), t["true_cpc"].to_numpy().reshape(shape),
                        pd.Timestamp(t["day"].min()))


def run(cfg: BudgetConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Simulate ``horizon_days`` after the facts on ``sim_seeds`` seeds; log the regret table and plots.

    With synthetic facts every seed runs in the saved true world (seeds change outcomes
    and policy draws). Local facts have no truth: each seed's world is drawn from the
    posterior (a parametric bootstrap), which the logged tag ``simulation.world`` says.
    """
    import mlflow

    facts = pd.read_parquet(state["facts_path"])
    n_days = pd.to_datetime(facts["day"]).nunique()
    if state.get("truth_path"):
        world = truth_world(state["truth_path"])
        start, world_for_seed, kind = n_days, (lambda seed: world), "ground truth"
    else:
        post = SegmentPosterior.from_facts(facts, cfg.prior_alpha, cfg.prior_beta, cfg.discount)
        start_day = str((pd.to_datetime(facts["day"]).max() + pd.Timedelta(days=1)).date())
        start, kind = 0, "posterior draws"

        def world_for_seed(seed: int) -> SegmentWorld:
            return world_from_posterior(post, cfg.horizon_days, seed, cfg.cvr_drift, cfg.cpc_drift, start_day)
    seeds = [cfg.seed * 1000 + i for i in range(cfg.sim_seeds)]
    progress = Progress("simulate", total=len(seeds), unit="seeds")
    res = simulate(world_for_seed, start, cfg.horizon_days, cfg.daily_budget, facts, seeds,
                   policy_settings(cfg, cfg.sim_draws), cfg.prior_alpha, cfg.prior_beta, cfg.discount,
                   progress=progress.update)
    progress.done()
    summary = summarise(res.daily)
    out = ctx.run_dir / "simulation"
    with atomic_path(out, is_dir=True) as tmp:
        summary.to_csv(tmp / "regret_summary.csv", index=False, float_format="%.6g")
        res.daily.to_parquet(tmp / "daily.parquet", index=False)
        res.plans.to_parquet(tmp / "thompson_plans.parquet", index=False)
        res.plans.to_csv(tmp / "thompson_plans.csv", index=False, float_format="%.6g")
        regret_png(res.daily, tmp / "regret.png")
        allocation_png(res.plans, tmp / "allocation.png")
    mlflow.log_artifacts(str(out), "simulation")
    mlflow.set_tag("simulation.world", kind)
    for row in summary.itertuples():
        mlflow.log_metrics({f"{row.policy}.regret": row.regret, f"{row.policy}.regret_lo": row.regret_lo,
                            f"{row.policy}.regret_hi": row.regret_hi, f"{row.policy}.regret_pct": row.regret_pct,
                            f"{row.policy}.cost_per_conv": row.cost_per_conv, f"{row.policy}.conv": row.conv})
    log.info(
        "regret over %d days, %d seeds (%s):\n%s",
        cfg.horizon_days,
        len(seeds),
        kind,
        summary[["policy", "regret", "regret_lo", "regret_hi", "regret_pct", "cost_per_conv"]]
        .round(2)
        .to_string(index=False),
    )
    return {**state, "simulation_path": str(out), "simulation_world": kind,
            "regret": {r.policy: [round(r.regret, 3), round(r.regret_lo, 3), round(r.regret_hi, 3)]
                       for r in summary.itertuples()}}
