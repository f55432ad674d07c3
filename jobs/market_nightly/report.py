"""report: one self-contained HTML page (plots embedded) plus the PNGs, logged to MLflow."""

from __future__ import annotations

import base64
import html
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.market_nightly.config import NightlyConfig
from jobs.paths import RunContext, atomic_path
from jobs.plots import pyplot, save_png
from models.market.customers import STAGES

log = logging.getLogger(__name__)


def roas_over_time_png(ts: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for name, g in ts.groupby("advertiser", sort=False):
        ax.plot(g["t"] / 24, g["revenue"] / g["spend"].where(g["spend"] > 0), label=name)
    ax.set(xlabel="day", ylabel="cumulative ROAS", title="ROAS over time per advertiser (seed 0)")
    ax.legend(fontsize=8)
    return save_png(fig, path, dpi=100)


def revenue_vs_spend_png(adv: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, g in adv.groupby("advertiser", sort=False):
        ax.scatter(g["spend"], g["revenue"], label=name, s=20)
    top = float(max(adv["spend"].max(), adv["revenue"].max()))
    ax.plot([0, top], [0, top], color="grey", ls=":", label="ROAS 1")
    ax.set(xlabel="spend", ylabel="revenue", title="Revenue vs spend (one dot per advertiser and seed)")
    ax.legend(fontsize=8)
    return save_png(fig, path, dpi=100)


def comparison_png(table: pd.DataFrame, path: Path) -> Path:
    """ROAS per advertiser with 95% intervals, one bar per pCTR source."""
    plt = pyplot()
    names = list(dict.fromkeys(table["advertiser"]))
    sources = list(dict.fromkeys(table["source"]))
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(sources)
    for j, src in enumerate(sources):
        t = table[table["source"] == src].set_index("advertiser").reindex(names)
        x = np.arange(len(names)) + j * width
        ax.bar(x, t["roas"], width, label=f"pCTR: {src}")
        ax.errorbar(x, t["roas"], yerr=[t["roas"] - t["roas_lo"], t["roas_hi"] - t["roas"]], fmt="none", color="black")
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax.set(ylabel="ROAS (95% interval over seeds)", title="Advertiser comparison")
    ax.legend(fontsize=8)
    return save_png(fig, path, dpi=100)


def funnel_png(market_ts: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    shares = np.vstack([market_ts[f"share_{s.lower()}"] for s in STAGES])
    ax.stackplot(market_ts["t"] / 24, shares, labels=[s.lower() for s in STAGES])
    ax.set(xlabel="day", ylabel="share of customers", title="Customer journey: stage mix over time", ylim=(0, 1))
    ax.legend(fontsize=7, loc="upper right")
    return save_png(fig, path, dpi=100)


def bid_heatmap_png(market_ts: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    grid = market_ts.groupby("hour")[[f"bid_{s.lower()}" for s in STAGES]].mean().T
    fig, ax = plt.subplots(figsize=(10, 3.5))
    im = ax.imshow(grid.to_numpy(), aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(STAGES)), [s.lower() for s in STAGES])
    ax.set_xticks(range(0, 24, 3), [str(h) for h in range(0, 24, 3)])
    ax.set(xlabel="hour of day", title="Mean bid per opportunity by stage and hour")
    fig.colorbar(im, ax=ax, label="currency")
    return save_png(fig, path, dpi=100)


def pricing_png(table: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    scenarios = list(dict.fromkeys(table["scenario"]))
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.5 * len(scenarios), 4), squeeze=False)
    for ax, sc in zip(axes[0], scenarios):
        t = table[table["scenario"] == sc]
        y = np.arange(len(t))[::-1]
        ax.errorbar(t["revenue"], y, xerr=[t["revenue"] - t["revenue_lo"], t["revenue_hi"] - t["revenue"]], fmt="o")
        ax.set_yticks(y, t["policy"])
        ax.set(title=sc, xlabel="revenue per episode")
    fig.suptitle("Dynamic pricing: revenue per policy (95% intervals)")
    return save_png(fig, path, dpi=100)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def page(state: dict[str, Any], tables: dict[str, pd.DataFrame], pngs: list[Path]) -> str:
    champs = state.get("champions") or {}
    singles = {k: v for k, v in champs.items() if k != "bidders"}
    bidders = list((champs.get("bidders") or {}).values())
    champ_line = ", ".join([*(f"{v['name']} v{v['version']}" if v else f"{k}: none" for k, v in singles.items()),
                            *(f"{b['name']} v{b['version']}" for b in bidders)] or ["none"])
    regress = state.get("regressions") or {}
    gate = (
        (
            f"against {html.escape(str(state.get('previous_night')))}: "
            + (
                ", ".join(f"<b>{html.escape(m)}</b> {html.escape(d)}" for m, d in regress.items())
                or "no headline metric dropped"
            )
        )
        if state.get("previous_night")
        else "no earlier successful night to compare with"
    )
    heads = "".join(f"<li>{html.escape(m)}: {v['mean']:.4g} [{v['lo']:.4g}, {v['hi']:.4g}]</li>"
                    for m, v in state["headlines"].items())
    parts = [
        f"<h1>Market nightly: {html.escape(Path(state['auctions_dir']).parent.name)}</h1>",
        f"<p>Champions: {html.escape(champ_line)}. Headline pCTR source: {html.escape(state['headline_ctr'])}.</p>",
        f"<h2>Headline metrics (95% intervals over seeds)</h2><ul>{heads}</ul>",
        f"<h2>Regression gate</h2><p>{gate}</p>",
    ]
    for title, df in tables.items():
        parts.append(f"<h2>{html.escape(title)}</h2>" + df.to_html(index=False, float_format=lambda v: f"{v:,.3f}"))
    parts += [_img(p) for p in pngs]
    return "<!doctype html><html><head><meta charset='utf-8'><title>Market nightly</title></head><body>" \
        + "\n".join(parts) + "</body></html>"


def _csv(path: Path) -> pd.DataFrame:
    """A table the compare step wrote, empty when it had no rows (e.g. no learned bidders yet)."""
    return pd.read_csv(path) if path.stat().st_size > 1 else pd.DataFrame()


def run(cfg: NightlyConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    import mlflow

    folder, cmp = Path(state["auctions_dir"]), Path(state["compare_dir"])
    out = ctx.run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    adv_runs = pd.read_parquet(folder / "advertisers.parquet")
    first = next(iter(cfg.auction_scenarios))
    head = adv_runs[(adv_runs["scenario"] == first) & (adv_runs["source"] == state["headline_ctr"])]
    adv = pd.read_csv(cmp / "advertisers.csv")
    pngs = [roas_over_time_png(pd.read_parquet(folder / "timeseries.parquet"), out / "roas_over_time.png"),
            revenue_vs_spend_png(head, out / "revenue_vs_spend.png"),
            comparison_png(adv[adv["scenario"] == first], out / "advertiser_comparison.png"),
            funnel_png(pd.read_parquet(folder / "market_timeseries.parquet"), out / "funnel.png"),
            bid_heatmap_png(pd.read_parquet(folder / "market_timeseries.parquet"), out / "bid_heatmap.png"),
            pricing_png(pd.read_csv(cmp / "pricing.csv"), out / "pricing.png")]
    tables = {"Market by scenario and pCTR source": pd.read_csv(cmp / "market.csv"), "Advertisers": adv,
              "What the CTR model is worth (the focal advertiser's profit vs no model)": _csv(cmp / "ctr_value.csv"),
              "Pricing policies": pd.read_csv(cmp / "pricing.csv"),
              "Learned bidders (champions) vs the scripted strategies they replace": _csv(cmp / "learned_bidders.csv")}
    path = out / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page(state, tables, pngs))
    for p in [path, *pngs]:
        mlflow.log_artifact(str(p), "report")
    log.info("report: %s", path)
    return {**state, "report_path": str(path)}
