"""report: register the ``mmm`` model, then the run's report (holdout, ROI recovery, optimiser, what-if) as one
self-contained HTML page (jobs/pages) and as Markdown, both logged to MLflow."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.mmm.config import MmmConfig
from jobs.mmm.serving import register_model
from jobs.pages.format import fmt, row_interval
from jobs.pages.render import Page, Section, formatted, write
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


def page(state: dict[str, Any], cfg: MmmConfig) -> Page:
    """The report as a page: findings first (fit, ROI, optimiser, best what-if), then figures next to their tables."""
    run_dir = Path(state["posterior_path"]).parent.parent
    ev, cu, op = run_dir / "evaluate", run_dir / "curves", run_dir / "optimise"
    metrics = pd.read_csv(ev / "holdout_metrics.csv")
    roi = pd.read_csv(ev / "roi.csv")
    whatif = pd.read_csv(op / "whatif.csv")
    shares = pd.read_csv(op / "channel_shares.csv")
    mroi = pd.read_csv(cu / "marginal_roi_today.csv")
    u, reg, level = state["uplift"], state.get("registered") or {}, f"{cfg.interval:.0%}"
    gate = state["holdout"]
    # Identified units: a channel of a collinear group is read through its group's row.
    grouped = {m for g in roi.loc[roi["group"], "channel"] for m in g.split("+")}
    channels = roi[~roi["channel"].isin(grouped)].sort_values("roi")
    findings = [
        f"Holdout (last {cfg.holdout_weeks} periods, never fitted): R\u00b2 {fmt(gate['r2'], 'ratio')}, MAPE "
        f"{fmt(gate['mape'], 'pct')} at the gate level; model mmm v{reg.get('version')} is {reg.get('alias')}.",
        f"Highest ROI: {channels.iloc[-1]['channel']}, {row_interval(channels.iloc[-1], 'roi', 'ratio')} per unit of "
        f"spend; lowest: {channels.iloc[0]['channel']}, {row_interval(channels.iloc[0], 'roi', 'ratio')} "
        f"({level} intervals).",
        f"The optimal split of {fmt(u['budget'], 'money')} over the reference period sells "
        f"{fmt(u['optimal_value'], 'money')} against {fmt(u['current_value'], 'money')} with today's split: "
        f"{fmt(u['pct'] / 100, 'pct')} [{fmt(u['pct_lo'] / 100, 'pct')}, {fmt(u['pct_hi'] / 100, 'pct')}].",
    ]
    scen = whatif[whatif["scenario"] != "current"].sort_values("delta_value")
    if len(scen):
        best = scen.iloc[-1]
        findings.append(f"Best what-if: '{best['scenario']}', {row_interval(best, 'delta_value', 'money')} of sales "
                        f"value against today.")
    groups = roi[roi["group"]]
    if len(groups):
        findings.append("Channels the data cannot tell apart (their media move together): "
                        + ", ".join(groups["channel"]) + "; read their joint ROI.")
    if state.get("recovery"):
        rec = state["recovery"]
        findings.append(f"Against the synthetic truth: mean ROI error {fmt(rec['mean_abs_roi_error_pct'] / 100, 'pct')}"
                        f", intervals cover {fmt(rec['coverage'], 'pct')} of the channels.")
    shown = [c for c in ("channel", "spend", "roi", "roi_lo", "roi_hi", "true_roi", "error_pct", "covered")
             if c in roi.columns]
    roi_view = formatted(roi[shown], {"spend": "money", "true_roi": "ratio", "error_pct": "number", "covered": "flag"},
                         {"roi": "ratio"}, {"roi": f"ROI ({level})", "true_roi": "true ROI", "error_pct": "error %"})
    metric_view = formatted(metrics, {"r2": "ratio", "mape": "pct", "wmape": "pct", "groups": "count"},
                            rename={"r2": "R\u00b2", "mape": "MAPE", "wmape": "wMAPE"})
    share_view = formatted(shares, {"current_spend": "money", "optimal_spend": "money", "current_share": "pct",
                                    "optimal_share": "pct"})
    whatif_view = formatted(whatif[["scenario", "spend", "value", "value_lo", "value_hi", "delta_value",
                                    "delta_value_lo", "delta_value_hi"]], {"spend": "money"},
                            {"value": "money", "delta_value": "money"}, {"delta_value": "change vs today"})
    curve_pngs = sorted(cu.glob("curves_*.png"), key=lambda q: q.name != "curves_national.png")
    return Page(
        title=f"Marketing mix model: {run_dir.name}",
        subtitle=f"Source {state['source']}; fit {state['fit_seconds']} s; {cfg.adstock} adstock, {cfg.saturation} "
                 f"saturation; intervals {level} (Laplace, {cfg.n_draws} draws).",
        findings=findings,
        sections=[
            Section("Fit", "Actual and fitted sales nationally; the shaded weeks were held out.",
                    [ev / "fit_national.png"], metric_view),
            Section("ROI per channel", "Sales value bought per unit of spend; rows joined by + are channels whose "
                    "media move together.", [ev / "roi.png"], roi_view),
            Section("Where sales come from", "", [ev / "waterfall.png"]),
            Section("Response curves", "Incremental value against spend; dots mark today's spend.", curve_pngs,
                    formatted(mroi, {"spend": "money", "incremental_value": "money"}, {"marginal_roi": "ratio"},
                              {"marginal_roi": "marginal ROI today"})),
            Section("Budget optimiser", "", [op / "channel_shares.png", op / "frontier.png"], share_view),
            Section("What-if scenarios", "", [op / "whatif.png"], whatif_view),
        ],
        details={"Holdout metrics": metrics, "ROI": roi, "Optimal plan per cell": pd.read_csv(op / "optimal_plan.csv"),
                 "Frontier": pd.read_csv(op / "frontier.csv"), "Marginal ROI today": mroi},
    )


def run(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Register the model (champion / challenger), write and log report.md (``python -m jobs.report mmm`` prints it)."""
    import mlflow

    state = {**state, "registered": register_model(state["posterior_path"], state["holdout"]["r2"], ctx)}
    path = ctx.run_dir / "report" / "report.md"
    text = markdown(state, cfg)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    html_path = write(page(state, cfg), ctx.run_dir / "report" / "report.html")
    for p in (path, html_path):
        mlflow.log_artifact(str(p), "report")
    log.info("report: %s, %s", path, html_path)
    return {**state, "report_path": str(path), "report_html": str(html_path)}
