"""report: one self-contained HTML page (jobs/pages: headline findings, plots next to their tables, details
collapsed) plus the PNGs, logged to MLflow."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.market_nightly.config import NightlyConfig
from jobs.pages.format import fmt, row_interval
from jobs.pages.render import Page, Section, formatted, write
from jobs.paths import RunContext
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


ADVERTISER_KINDS = {"revenue": "money", "spend": "money", "clv": "money", "market_share": "pct",
                    "conversions": "count", "n_seeds": "count"}
ADVERTISER_INTERVALS = {"roas": "ratio", "ctr": "rate", "cvr": "rate", "cac": "money", "win_rate": "rate"}


def _champions(state: dict[str, Any]) -> str:
    champs = state.get("champions") or {}
    singles = {k: v for k, v in champs.items() if k != "bidders"}
    bidders = list((champs.get("bidders") or {}).values())
    return ", ".join([*(f"{v['name']} v{v['version']}" if v else f"{k}: none" for k, v in singles.items()),
                      *(f"{b['name']} v{b['version']}" for b in bidders)] or ["none"])


def findings(state: dict[str, Any], adv: pd.DataFrame, market: pd.DataFrame, pricing: pd.DataFrame,
             value: pd.DataFrame, first: str) -> list[str]:
    """Three to six sentences a reader needs first: the market, the best and worst advertiser, what the CTR model
    is worth, the best pricing policy, the regression gate."""
    source = state["headline_ctr"]
    m = market[(market["scenario"] == first) & (market["source"] == source)].iloc[0]
    seeds = int(m["n_seeds"])
    out = [f"Market in '{first}' (pCTR from {source}, {seeds} seeds): ROAS "
           f"{row_interval(m, 'market_roas', 'ratio')}, CTR "
           f"{row_interval(m, 'market_ctr', 'rate')}, revenue "
           f"{row_interval(m, 'market_revenue', 'money')} per run."]
    a = adv[(adv["scenario"] == first) & (adv["source"] == source)].dropna(subset=["roas"]).sort_values("roas")
    if len(a) >= 2:
        best, worst = a.iloc[-1], a.iloc[0]
        out.append(f"Highest ROAS: {best['advertiser']}, {row_interval(best, 'roas', 'ratio')}"
                   f" on {fmt(best['spend'], 'money')} spend; lowest: {worst['advertiser']}, "
                   f"{row_interval(worst, 'roas', 'ratio')}.")
    v = value[(value["scenario"] == first)] if not value.empty else value
    if not v.empty:
        r = v.iloc[0]
        gain = row_interval(r, "profit_gain", "money")
        verdict = ("more profit" if r["profit_gain_lo"] > 0 else "less profit" if r["profit_gain_hi"] < 0
                   else "no clear difference, the interval spans zero")
        out.append(f"The CTR model ({r['source']}) changes the focal advertiser {r['advertiser']}'s profit by {gain} "
                   f"against no model (paired by seed): {verdict}.")
    base = pricing[pricing["scenario"] == pricing["scenario"].iloc[0]].sort_values("revenue", ascending=False)
    if len(base) >= 2:
        top, second = base.iloc[0], base.iloc[1]
        out.append(f"Best pricing policy in '{top['scenario']}': {top['policy']}, revenue "
                   f"{row_interval(top, 'revenue', 'money')} per episode against "
                   f"{second['policy']}'s {row_interval(second, 'revenue', 'money')}.")
    regress = state.get("regressions") or {}
    if state.get("previous_night"):
        out.append(f"Against the previous good night ({state['previous_night']}): "
                   + ("; ".join(f"{k} {d}" for k, d in regress.items()) or "no headline metric dropped") + ".")
    else:
        out.append("Regression gate: no earlier successful night to compare with.")
    return out


def page(state: dict[str, Any], first: str, tables: dict[str, pd.DataFrame], pngs: dict[str, Path]) -> Page:
    """The nightly's report page."""
    adv, market, pricing = tables["advertisers"], tables["market"], tables["pricing"]
    source = state["headline_ctr"]
    head_adv = adv[(adv["scenario"] == first) & (adv["source"] == source)]
    cols = ["advertiser", "roas", "roas_lo", "roas_hi", "roas_undefined", "ctr", "ctr_lo", "ctr_hi", "cac", "cac_lo",
            "cac_hi", "cac_undefined", "revenue", "spend", "n_seeds"]
    adv_view = formatted(head_adv[[c for c in cols if c in head_adv]], ADVERTISER_KINDS,
                         {k: v for k, v in ADVERTISER_INTERVALS.items() if k in ("roas", "ctr", "cac")},
                         {"roas": "ROAS", "ctr": "CTR", "cac": "CAC", "n_seeds": "seeds"})
    m_cols = ["scenario", "source", "market_roas", "market_roas_lo", "market_roas_hi", "market_ctr", "market_ctr_lo",
              "market_ctr_hi", "market_revenue", "market_revenue_lo", "market_revenue_hi", "n_seeds"]
    market_view = formatted(market[m_cols], {"n_seeds": "count"},
                            {"market_roas": "ratio", "market_ctr": "rate", "market_revenue": "money"},
                            {"market_roas": "ROAS", "market_ctr": "CTR", "market_revenue": "revenue",
                             "n_seeds": "seeds"})
    p_cols = ["scenario", "policy", "revenue", "revenue_lo", "revenue_hi", "human_conversion", "human_conversion_lo",
              "human_conversion_hi", "leakage", "leakage_lo", "leakage_hi"]
    pricing_view = formatted(pricing[p_cols], {}, {"revenue": "money", "human_conversion": "rate",
                                                   "leakage": "money"},
                             {"human_conversion": "human conversion"})
    return Page(
        title=f"Market nightly: {Path(state['auctions_dir']).parent.name}",
        subtitle=f"Champions: {_champions(state)}. Headline pCTR source: {source}. Intervals: 95% over seeds "
                 f"(ratios as ratios of sums).",
        findings=findings(state, adv, market, pricing, tables["ctr_value"], first),
        sections=[
            Section(f"Advertisers in '{first}' (pCTR from {source})",
                    "ROAS per advertiser with its interval, one bar per pCTR source.",
                    [pngs["comparison"]], adv_view),
            Section("Market by scenario and pCTR source", "", [pngs["revenue_vs_spend"], pngs["roas_over_time"]],
                    market_view),
            Section("Customer journey and bids", "Stage mix over the run, and the mean bid by stage and hour.",
                    [pngs["funnel"], pngs["bid_heatmap"]]),
            Section("Dynamic pricing", "Revenue per episode for each pricing policy.", [pngs["pricing"]],
                    pricing_view),
        ],
        details={"Advertisers, every scenario and source": adv, "Market": market,
                 "What the CTR model is worth (profit vs no model, paired by seed)": tables["ctr_value"],
                 "Pricing policies": pricing,
                 "Learned bidders (champions) vs the scripted strategies they replace": tables["learned_bidders"]},
    )


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
    market_ts = pd.read_parquet(folder / "market_timeseries.parquet")
    pngs = {"roas_over_time": roas_over_time_png(pd.read_parquet(folder / "timeseries.parquet"),
                                                 out / "roas_over_time.png"),
            "revenue_vs_spend": revenue_vs_spend_png(head, out / "revenue_vs_spend.png"),
            "comparison": comparison_png(adv[adv["scenario"] == first], out / "advertiser_comparison.png"),
            "funnel": funnel_png(market_ts, out / "funnel.png"),
            "bid_heatmap": bid_heatmap_png(market_ts, out / "bid_heatmap.png"),
            "pricing": pricing_png(pd.read_csv(cmp / "pricing.csv"), out / "pricing.png")}
    tables = {"advertisers": adv, "market": pd.read_csv(cmp / "market.csv"),
              "pricing": pd.read_csv(cmp / "pricing.csv"), "ctr_value": _csv(cmp / "ctr_value.csv"),
              "learned_bidders": _csv(cmp / "learned_bidders.csv")}
    path = write(page(state, first, tables, pngs), out / "report.html")
    pngs = list(pngs.values())
    for p in [path, *pngs]:
        mlflow.log_artifact(str(p), "report")
    log.info("report: %s", path)
    return {**state, "report_path": str(path)}
