"""report: register the ``mmm`` model, then one Markdown page with the run's figures (holdout, ROI recovery,
optimiser, what-if), logged to MLflow."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.mmm.config import MmmConfig
from jobs.mmm.serving import register_model
from jobs.paths import RunContext, atomic_path

log = logging.getLogger(__name__)


def _table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, floatfmt=".3f")


def markdown(state: dict[str, Any], cfg: MmmConfig) -> str:
    """The report's text, from the files the earlier steps wrote."""
    run_dir = Path(state["posterior_path"]).parent.parent
    metrics = pd.read_csv(run_dir / "evaluate" / "holdout_metrics.csv")
    roi = pd.read_csv(run_dir / "evaluate" / "roi.csv")
    whatif = pd.read_csv(run_dir / "optimise" / "whatif.csv")
    shares = pd.read_csv(run_dir / "optimise" / "channel_shares.csv")
    u = state["uplift"]
    reg = state.get("registered") or {}
    lines = [
        f"# Marketing mix model, run {run_dir.name}",
        "",
        f"Source: {state['source']}; fit {state['fit_seconds']} s; model `{reg.get('model')}` v{reg.get('version')} "
        f"@{reg.get('alias')}. Intervals: {cfg.interval:.0%} (Laplace, {cfg.n_draws} draws).",
        "",
        f"## Fit: last {cfg.holdout_weeks} weeks held out",
        "",
        _table(metrics),
        "",
        "## ROI per channel" + (" against the known truth" if "true_roi" in roi.columns else ""),
        "",
        "Rows joined by `+` are channels whose impressions move together (median within-series correlation > 0.95): "
        "the data identify their sum, not the split.",
        "",
        _table(roi),
        "",
    ]
    if state.get("recovery"):
        lines += ["Recovery: " + ", ".join(f"{k} {v:.1f}" if "pct" in k else f"{k} {v:.2f}"
                                          for k, v in state["recovery"].items()), ""]
    lines += ["## Budget optimiser", "",
              f"Budget {u['budget']:,.0f} over the reference quarter: predicted sales value {u['optimal_value']:,.0f} "
              f"vs {u['current_value']:,.0f} with today's split, uplift {u['pct']:.2f}% "
              f"[{u['pct_lo']:.2f}, {u['pct_hi']:.2f}].", "", _table(shares), "",
              "## What-if scenarios", "", _table(whatif[["scenario", "spend", "value", "value_lo", "value_hi",
                                                          "delta_value", "delta_value_lo", "delta_value_hi"]]), ""]
    return "\n".join(lines)


def run(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Register the model (champion / challenger), write and log report.md (``python -m jobs.report mmm`` prints it)."""
    import mlflow

    state = {**state, "registered": register_model(state["posterior_path"], state["holdout"]["r2"], ctx)}
    path = ctx.run_dir / "report" / "report.md"
    text = markdown(state, cfg)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    mlflow.log_artifact(str(path), "report")
    log.info("report: %s", path)
    return {**state, "report_path": str(path)}
