"""curves / optimise: response curves and marginal ROI, the budget optimiser, the frontier, what-if scenarios."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from jobs.mmm import plots
from jobs.mmm.config import MmmConfig
from jobs.mmm.serving import default_scenarios, scenarios_from_config
from jobs.mmm.store import load_posterior
from jobs.paths import RunContext, write_table
from models.mmm.optimise import frontier, optimise
from models.mmm.response import response_curves, whatif

log = logging.getLogger(__name__)


def _log(paths: list[Path], folder: str) -> None:
    import mlflow

    for path in paths:
        mlflow.log_artifact(str(path), folder)


def run_curves(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Incremental value and marginal ROI against spend per channel, nationally and per member of each pooled
    level (geoindia: brand and geo)."""
    import mlflow

    post = load_posterior(Path(state["posterior_path"]))
    grid = np.unique(np.r_[np.linspace(0.0, cfg.curve_max, cfg.curve_points), 1.0])  # today's spend is on the grid
    curves = response_curves(post, grid, cfg.interval)
    out = ctx.run_dir / "curves"
    write_table(curves, out / "response_curves.parquet")
    now = (curves[np.isclose(curves["multiplier"], 1.0) & (curves["level"] == "national")].set_index("channel")
           [["spend", "incremental_value", "marginal_roi", "marginal_roi_lo", "marginal_roi_hi"]])
    write_table(now, out / "marginal_roi_today.csv", index=True)
    pngs = [plots.curves_png(curves, level, out / f"curves_{level.lower()}.png")
            for level in ["national", *post.levels]]
    _log([out / "response_curves.parquet", out / "marginal_roi_today.csv", *pngs], "curves")
    mlflow.log_metrics({f"marginal_roi_{ch}": float(r.marginal_roi) for ch, r in now.iterrows()})
    log.info("curves: %d rows; marginal ROI at today's spend: %s", len(curves),
             {ch: round(float(r.marginal_roi), 2) for ch, r in now.iterrows()})
    return {**state, "curves_path": str(out / "response_curves.parquet")}


def run_optimise(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """The optimal split of the budget with its uplift interval, the efficiency frontier, the what-if table."""
    import mlflow

    post = load_posterior(Path(state["posterior_path"]))
    bounds = {"channel_share": {ch: tuple(v) for ch, v in cfg.channel_share.items()},
              "cell_bounds": tuple(cfg.cell_bounds),
              "channel_cell_bounds": {ch: tuple(v) for ch, v in cfg.channel_cell_bounds.items()}}
    opt = optimise(post, cfg.budget or None, level=cfg.interval, **bounds)  # type: ignore[arg-type]
    today = float(post.spend.sum())
    front = frontier(post, today * np.asarray(cfg.frontier, dtype=float), **bounds)
    table = whatif(post, scenarios_from_config(cfg.scenarios) if cfg.scenarios else default_scenarios(post),
                   cfg.interval)
    out = ctx.run_dir / "optimise"
    write_table(opt.cells, out / "optimal_plan.csv")
    write_table(opt.channels, out / "channel_shares.csv")
    write_table(front, out / "frontier.csv")
    write_table(table, out / "whatif.csv")
    pngs = [plots.shares_png(opt.channels, out / "channel_shares.png"),
            plots.frontier_png(front, today, out / "frontier.png"),
            plots.whatif_png(table, out / "whatif.png")]
    _log([out / "optimal_plan.csv", out / "channel_shares.csv", out / "frontier.csv", out / "whatif.csv", *pngs],
         "optimise")
    mlflow.log_metrics({f"uplift_{k}": v for k, v in opt.uplift.items()})
    log.info("optimiser: budget %.0f, uplift %.2f%% [%.2f, %.2f] of sales value over the reference period",
             opt.uplift["budget"], opt.uplift["pct"], opt.uplift["pct_lo"], opt.uplift["pct_hi"])
    return {**state, "uplift": opt.uplift, "whatif_path": str(out / "whatif.csv")}
