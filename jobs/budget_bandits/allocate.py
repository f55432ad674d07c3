"""allocate: tomorrow's plan from the facts' posteriors, paced against the last day's split."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.budget_bandits.config import BudgetConfig
from jobs.budget_bandits.plots import posterior_png
from jobs.paths import RunContext, atomic_path, data_root, defer_link
from models.bandits.allocation import project_shares
from models.bandits.simulation import PolicySettings, SegmentPosterior, last_day_shares, paced_plan
from models.bandits.thompson import thompson_shares
from models.common.streams import stream

log = logging.getLogger(__name__)


def policy_settings(cfg: BudgetConfig, n_draws: int) -> PolicySettings:
    """Pacing and policy knobs of ``cfg`` with ``n_draws`` posterior draws per decision."""
    return PolicySettings(floor=cfg.floor, cap=cfg.cap, n_draws=n_draws, mode=cfg.mode, epsilon=cfg.epsilon)


def build_plan(
    facts: pd.DataFrame, cfg: BudgetConfig, rng: np.random.Generator
) -> tuple[pd.DataFrame, SegmentPosterior, tuple[float, float, float]]:
    """Plan table for the day after the last fact, its posterior, and the expected uplift (mean, 5%, 95%)."""
    post = SegmentPosterior.from_facts(facts, cfg.prior_alpha, cfg.prior_beta, cfg.discount)
    settings = policy_settings(cfg, cfg.n_draws)
    prev = project_shares(last_day_shares(facts, post.keys), floor=cfg.floor)
    target, plan = paced_plan("thompson", post, prev, rng, settings)
    p_best = target if cfg.mode == "best" else thompson_shares(post.alpha, post.beta, cfg.n_draws, rng,
                                                                post.clicks_per_unit(), "best")
    cpu = post.clicks_per_unit()
    lo, hi = post.cvr_interval(0.9)
    draws = rng.beta(post.alpha, post.beta, size=(min(cfg.n_draws, 4000), post.keys.size)) * cpu
    gain = cfg.daily_budget * draws @ (plan - prev)
    day = pd.to_datetime(facts["day"]).max() + pd.Timedelta(days=1)
    table = (
        pd.DataFrame(
            {
                "day": day.date(),
                "segment_key": post.keys,
                "share": plan,
                "budget": np.round(cfg.daily_budget * plan, 2),
                "prev_share": prev,
                "target_share": target,
                "p_best": p_best,
                "cvr_mean": post.cvr_mean(),
                "cvr_lo": lo,
                "cvr_hi": hi,
                "clicks_per_unit": cpu,
                "conv_per_100": 100 * post.cvr_mean() * cpu,
                "conv_per_100_lo": 100 * lo * cpu,
                "conv_per_100_hi": 100 * hi * cpu,
                "expected_conv": cfg.daily_budget * plan * post.cvr_mean() * cpu,
            }
        )
        .sort_values("share", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    uplift = (float(gain.mean()), float(np.quantile(gain, 0.05)), float(np.quantile(gain, 0.95)))
    return table, post, uplift


def current_plan_link() -> Path:
    """The latest published plan (a folder with plan.csv and plan.parquet)."""
    return data_root() / "budget_bandits" / "plan" / "current"


def run(cfg: BudgetConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Write plan.csv and plan.parquet, log them with the posterior plot; ``plan/current`` moves to them
    once the whole run has succeeded."""
    import mlflow

    facts = pd.read_parquet(state["facts_path"])
    table, post, uplift = build_plan(facts, cfg, stream(cfg.seed, "budget.plan"))
    out = ctx.run_dir / "plan"
    with atomic_path(out, is_dir=True) as tmp:
        table.to_csv(tmp / "plan.csv", index=False, float_format="%.6g")
        table.to_parquet(tmp / "plan.parquet", index=False)
        posterior_png(
            post, table.set_index("segment_key")["p_best"].reindex(post.keys).to_numpy(), tmp / "posteriors.png"
        )
    mlflow.log_artifacts(str(out), "plan")
    mlflow.log_metrics({
        "plan_expected_conv": float(table["expected_conv"].sum()), "plan_uplift_conv": uplift[0],
        "plan_uplift_conv_lo": uplift[1], "plan_uplift_conv_hi": uplift[2],
        "plan_max_share": float(table["share"].max()), "plan_segments": len(table),
        "plan_moved_share": float(np.abs(table["share"] - table["prev_share"]).sum() / 2),
    })
    log.info("plan for %s: %d segments, top %s at %.1f%%, expected uplift %+.1f conversions (90%% %+.1f..%+.1f)",
             table["day"].iloc[0], len(table), table["segment_key"].iloc[0], 100 * table["share"].iloc[0], *uplift)
    state = defer_link(state, out, current_plan_link())
    return {**state, "plan_path": str(out), "plan_day": str(table["day"].iloc[0]), "uplift": list(uplift)}
