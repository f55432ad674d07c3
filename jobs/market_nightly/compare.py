"""compare / regression_gate: means with 95% intervals over seeds, then tonight against the last good night.

Headline metrics (market ROAS, revenue and CTR of the first auction scenario with the best
available pCTR source, and the best pricing policy's revenue in the first pricing
scenario) are logged with their intervals. The gate finds the previous night whose whole
run finished (same profile), and flags every headline whose mean fell below that night's
interval: a tag ``regression.<metric>`` names it, and the run fails only for the metrics
in ``gate_fail_on``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.market_nightly.config import EXPERIMENT, HEADLINES, NightlyConfig
from jobs.paths import RunContext, write_table
from models.common.errors import GateError, require_finite
from models.common.intervals import RATES, RATIOS, ratio_interval, t_interval

log = logging.getLogger(__name__)


class RegressionError(GateError):
    """A gated headline metric fell below the previous night's interval."""


# Market-wide ratios: (numerator, denominator) columns of market.parquet.
MARKET_RATIOS = {"market_roas": ("market_revenue", "market_spend"),
                 "market_ctr": ("market_clicks", "market_impressions")}


def summarise(df: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per group with ``<metric>``, ``<metric>_lo`` and ``<metric>_hi`` columns over the seeds: a ratio
    (ROAS, CTR, CVR, CPC, CAC, win rate; market ROAS and CTR) as the ratio of sums with an interval that stays in
    its range, plus ``<metric>_undefined`` (seeds without a denominator) and ``n_seeds``; anything else as a mean
    with its t-interval."""
    parts = []
    groups = df.groupby(by, sort=False)
    for metric in metrics:
        pair = {**RATIOS, **MARKET_RATIOS}.get(metric)
        if pair and set(pair) <= set(df.columns):
            num, den = pair
            s = groups[[num, den]].apply(lambda g, a=num, b=den, m=metric: ratio_interval(
                g[a], g[b], rate=m.removeprefix("market_") in RATES))
            s = s[["mean", "lo", "hi", "undefined"]].rename(columns={"undefined": f"{metric}_undefined"})
        else:
            s = groups[metric].apply(t_interval).unstack()
        parts.append(s.rename(columns={"mean": metric, "lo": f"{metric}_lo", "hi": f"{metric}_hi"}))
    parts.append(groups.size().rename("n_seeds"))
    return pd.concat(parts, axis=1).reset_index()


def best_source(sources: list[str]) -> str:
    for s in ("champion", "noisy_oracle", "none"):
        if s in sources:
            return s
    raise ValueError(f"no pCTR source in {sources}")


def run_compare(cfg: NightlyConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Tables of advertisers, market and pricing policies with intervals; the headline metrics."""
    import mlflow

    folder = Path(state["auctions_dir"])
    adv = pd.read_parquet(folder / "advertisers.parquet")
    market = pd.read_parquet(folder / "market.parquet")
    pricing = pd.read_parquet(state["pricing_path"])
    adv_table = summarise(adv, ["scenario", "source", "advertiser"],
                          ["roas", "revenue", "spend", "ctr", "cvr", "cac", "clv", "win_rate", "market_share"])
    market_table = summarise(market, ["scenario", "source"], ["market_roas", "market_revenue", "market_ctr",
                                                           "market_conversions", "churn_rate", "clv"])
    pricing_table = summarise(pricing, ["scenario", "policy"], ["revenue", "human_conversion", "leakage", "reward"])
    # What the CTR model is worth to the focal advertiser: its profit (revenue - spend) with each pCTR
    # source minus with one average CTR (no model), paired by seed (common random numbers).
    value = []
    focal = adv[adv["focal"]].assign(profit=lambda d: d["revenue"] - d["spend"])
    if "none" in set(focal["source"]):
        wide = focal.pivot_table(index=["scenario", "seed"], columns="source", values="profit")
        for source in [c for c in wide.columns if c != "none"]:
            for scenario, g in (wide[source] - wide["none"]).groupby(level=0):
                value.append({"scenario": scenario, "advertiser": focal["advertiser"].iloc[0], "source": source,
                              **t_interval(g).add_prefix("profit_gain_").to_dict()})
    value_table = pd.DataFrame(value)
    learned_table = pd.DataFrame()
    if state.get("learned_path"):
        learned = pd.read_parquet(state["learned_path"])
        learned_table = summarise(learned, ["agent", "policy"], ["roas", "revenue", "spend", "conversions"])
    out = ctx.run_dir / "compare"
    for name, df in (("advertisers", adv_table), ("market", market_table), ("pricing", pricing_table),
                     ("ctr_value", value_table), ("learned_bidders", learned_table)):
        mlflow.log_artifact(str(write_table(df, out / f"{name}.csv")), "compare")
    first, source = next(iter(cfg.auction_scenarios)), best_source(state["ctr_sources"])
    head = market_table[(market_table["scenario"] == first) & (market_table["source"] == source)].iloc[0]
    base = pricing_table[pricing_table["scenario"] == next(iter(cfg.pricing_scenarios))]
    best = base.sort_values("revenue", ascending=False).iloc[0]

    def defined(x: Any) -> float | None:  # a ratio of 0 has no interval (models.common.intervals): None, not NaN
        return float(x) if np.isfinite(x) else None

    headlines = {m: {"mean": defined(head[m]), "lo": defined(head[f"{m}_lo"]), "hi": defined(head[f"{m}_hi"])}
                 for m in ("market_roas", "market_revenue", "market_ctr")}
    headlines["pricing_best_revenue"] = {"mean": defined(best["revenue"]), "lo": defined(best["revenue_lo"]),
                                         "hi": defined(best["revenue_hi"])}
    for m, v in headlines.items():
        mlflow.log_metrics({f"headline.{m}{part}": v[key] for key, part in (("mean", ""), ("lo", ".lo"), ("hi", ".hi"))
                            if v[key] is not None})
    mlflow.set_tags({"headline.scenario": first, "headline.ctr": source, "pricing.best_policy": best["policy"]})
    log.info("headlines (%s, pCTR from %s): %s", first, source,
             {m: None if v["mean"] is None else round(v["mean"], 4) for m, v in headlines.items()})
    return {**state, "compare_dir": str(out), "headlines": headlines, "headline_ctr": source}


def previous_night(ctx: RunContext, profile: str) -> Any | None:
    """The newest compare run of an earlier nightly whose whole DAG run finished, same profile."""
    import mlflow

    from jobs.tracking import mlflow_setup

    client = mlflow.MlflowClient()
    exp_id = mlflow_setup(EXPERIMENT)
    runs = client.search_runs([exp_id], f"tags.`airflow.task_id` = 'compare' and attributes.status = 'FINISHED' "
                                        f"and tags.`config.profile` = '{profile}'",
                              order_by=["attributes.start_time DESC"], max_results=50)
    for r in runs:
        if r.data.tags.get("airflow.run_id") == ctx.run_id:
            continue
        parent = r.data.tags.get("mlflow.parentRunId")
        if parent and client.get_run(parent).info.status == "FINISHED":
            return r
    return None


def run_gate(cfg: NightlyConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Flag headline metrics below the previous good night's interval; fail for ``gate_fail_on``."""
    import mlflow

    # A NaN headline compares False with anything: it would pass the gate it should fail.
    require_finite(f"nightly headlines of {ctx.run_id}",
                   **{m: state["headlines"][m]["mean"] for m in HEADLINES if m in cfg.gate_fail_on})
    undefined = [m for m in HEADLINES if m in cfg.gate_fail_on and state["headlines"][m]["mean"] is None]
    if undefined:  # no seed had a denominator (spend, impressions): a gated metric that is not there cannot pass
        raise GateError(f"nightly headlines of {ctx.run_id}: gated {undefined} undefined (no seed had a denominator);"
                        " nothing passes the gate")
    prev = previous_night(ctx, cfg.profile)
    if prev is None:
        log.info("regression gate: no earlier successful night with profile %s; nothing to compare", cfg.profile)
        mlflow.set_tag("regression", "no previous night")
        return {**state, "regressions": {}, "previous_night": None}
    drops = {}
    for m in HEADLINES:
        now, lo = state["headlines"][m]["mean"], prev.data.metrics.get(f"headline.{m}.lo")
        if lo is not None and now is not None and now < lo:
            drops[m] = f"{now:.4g} < {lo:.4g} (previous night {prev.data.metrics[f'headline.{m}']:.4g})"
            mlflow.set_tag(f"regression.{m}", drops[m])
    mlflow.set_tag("regression", ", ".join(drops) or "none")
    prev_id = prev.data.tags.get("airflow.run_id")
    log.info("regression gate against %s: %s", prev_id, drops or "no headline metric dropped")
    failing = {m: d for m, d in drops.items() if m in cfg.gate_fail_on}
    if failing:
        raise RegressionError("headline metric(s) fell below the previous night's interval (" + str(prev_id) + "): "
                              + "; ".join(f"{m} {d}" for m, d in failing.items()))
    return {**state, "regressions": drops, "previous_night": prev_id}
