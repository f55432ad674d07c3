"""Analyst summary and strategist recommendation, written as text from the numbers alone.

No language model is needed: each sentence is a template filled from a statistic that
was tested (two-proportion z-tests for trends, binomial tail probabilities for
anomalies, posterior draws for the plan's expected effect). An LLM can rephrase the
result (jobs.budget_bandits.insights), but the facts come from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom


def _pct(x: float) -> str:
    return f"{x:+.1f}%"


def window_totals(facts: pd.DataFrame, days: int = 7) -> pd.DataFrame:
    """Spend, clicks, conversions and CPA over the last ``days`` days and the ``days`` before."""
    day = pd.to_datetime(facts["day"])
    last = day.max()
    age = (last - day).dt.days
    win = np.where(age < days, "recent", np.where(age < 2 * days, "before", "older"))
    g = facts.assign(window=win).groupby("window")[["spent", "clicks", "conv"]].sum()
    g = g.reindex(["before", "recent"], fill_value=0)
    g["cpa"] = g["spent"] / g["conv"].clip(lower=1)
    g["cvr"] = g["conv"] / g["clicks"].clip(lower=1)
    return g


def cvr_trends(facts: pd.DataFrame, days: int = 7, z_min: float = 3.0) -> pd.DataFrame:
    """Segments whose CVR changed between the two windows, with |z| >= ``z_min``."""
    day = pd.to_datetime(facts["day"])
    age = (day.max() - day).dt.days
    f = facts.assign(window=np.where(age < days, "recent", np.where(age < 2 * days, "before", None)))
    f = f[f["window"].notna()]
    p = f.pivot_table(index="segment_key", columns="window", values=["clicks", "conv"], aggfunc="sum", fill_value=0)
    if ("clicks", "before") not in p.columns or ("clicks", "recent") not in p.columns:
        return pd.DataFrame(columns=["segment_key", "cvr_before", "cvr_recent", "z"])
    n1, n2 = p[("clicks", "before")], p[("clicks", "recent")]
    c1, c2 = p[("conv", "before")], p[("conv", "recent")]
    r1, r2 = c1 / n1.clip(lower=1), c2 / n2.clip(lower=1)
    pooled = (c1 + c2) / (n1 + n2).clip(lower=1)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1.clip(lower=1) + 1 / n2.clip(lower=1)))
    z = (r2 - r1) / se.where(se > 0)
    out = pd.DataFrame({"segment_key": p.index, "cvr_before": r1.to_numpy(), "cvr_recent": r2.to_numpy(),
                        "z": z.to_numpy()})
    out = out[out["z"].abs() >= z_min]
    return out.reindex(out["z"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def anomalies(facts: pd.DataFrame, trailing: int = 14, p_max: float = 1e-3, cpc_jump: float = 1.5,
              recent: int = 7) -> pd.DataFrame:
    """Segment-days of the last ``recent`` days that break with the segment's trailing behaviour.

    Conversions whose two-sided binomial tail probability under the trailing CVR is below
    ``p_max``, and CPC above ``cpc_jump`` x the trailing median CPC.
    """
    f = facts.assign(day=pd.to_datetime(facts["day"])).sort_values(["segment_key", "day"])
    g = f.groupby("segment_key", sort=False)
    prev_conv = g["conv"].transform(lambda s: s.shift(1).rolling(trailing, min_periods=3).sum())
    prev_clicks = g["clicks"].transform(lambda s: s.shift(1).rolling(trailing, min_periods=3).sum())
    cpc = f["spent"] / f["clicks"].clip(lower=1)
    prev_cpc = cpc.groupby(f["segment_key"]).transform(lambda s: s.shift(1).rolling(trailing, min_periods=3).median())
    rate = (prev_conv + 1) / (prev_clicks + 2)
    lo_tail = binom.cdf(f["conv"], f["clicks"], rate)
    hi_tail = binom.sf(f["conv"] - 1, f["clicks"], rate)
    p = np.minimum(1.0, 2 * np.minimum(lo_tail, hi_tail))
    is_recent = f["day"] > f["day"].max() - pd.Timedelta(days=recent)
    conv_flag = is_recent & prev_clicks.notna() & (p < p_max)
    cpc_flag = is_recent & prev_cpc.notna() & (cpc > cpc_jump * prev_cpc)
    out = f.assign(expected_conv=f["clicks"] * rate, p_value=p, cpc=cpc, trailing_cpc=prev_cpc,
                   kind=np.where(conv_flag, "conversions", np.where(cpc_flag, "cpc", "")))
    return out[conv_flag | cpc_flag].reset_index(drop=True)


def analyst_summary(facts: pd.DataFrame, days: int = 7) -> str:
    """Trends and anomalies of the facts, as a few sentences an analyst would write."""
    w = window_totals(facts, days)
    b, r = w.loc["before"], w.loc["recent"]
    lines = [f"Last {days} days: spend {r['spent']:,.0f}, {r['conv']:,.0f} conversions, CPA {r['cpa']:.2f}."]
    if b["conv"] > 0:
        lines.append(
            f"Against the {days} days before: spend {_pct(100 * (r['spent'] / max(b['spent'], 1e-9) - 1))}, "
            f"conversions {_pct(100 * (r['conv'] / b['conv'] - 1))}, CPA {_pct(100 * (r['cpa'] / b['cpa'] - 1))}, "
            f"CVR {100 * b['cvr']:.2f}% -> {100 * r['cvr']:.2f}%."
        )
    t = cvr_trends(facts, days)
    if t.empty:
        lines.append("No segment's CVR moved significantly between the two windows (|z| >= 3).")
    for row in t.head(5).itertuples():
        verb = "rose" if row.z > 0 else "fell"
        lines.append(f"Trend: {row.segment_key} CVR {verb} from {100 * row.cvr_before:.2f}% to "
                     f"{100 * row.cvr_recent:.2f}% (z = {row.z:+.1f}).")
    a = anomalies(facts)
    if a.empty:
        lines.append("No anomalies in the last 7 days (binomial p < 0.001 or CPC > 1.5x trailing median).")
    for row in a.sort_values("p_value").head(5).itertuples():
        if row.kind == "cpc":
            lines.append(f"Anomaly: {row.segment_key} on {row.day.date()}: CPC {row.cpc:.2f} vs trailing median "
                         f"{row.trailing_cpc:.2f}.")
        else:
            lines.append(f"Anomaly: {row.segment_key} on {row.day.date()}: {row.conv} conversions from {row.clicks} "
                         f"clicks, {row.expected_conv:.1f} expected (p = {row.p_value:.1e}).")
    if len(a) > 5:
        lines.append(f"({len(a) - 5} more anomalies in anomalies.csv.)")
    return "\n".join(lines)


def strategist_recommendation(plan: pd.DataFrame, uplift: tuple[float, float, float], sim: pd.DataFrame | None,
                              top: int = 3) -> str:
    """Where to move budget and why, from tomorrow's plan and the simulation's regret table.

    ``plan`` holds segment_key, share, prev_share, target_share, conv_per_100 (posterior
    mean conversions per 100 units of budget) with conv_per_100_lo/_hi, and p_best;
    ``uplift`` is the expected extra conversions of the plan over yesterday's (mean, lo, hi).
    """
    d = plan.assign(delta=plan["share"] - plan["prev_share"])
    avg = float((plan["share"] * plan["conv_per_100"]).sum())
    lines = [f"Recommendation: move budget as in plan.csv. Expected conversions tomorrow change by "
             f"{uplift[0]:+.1f} (90% interval {uplift[1]:+.1f} to {uplift[2]:+.1f}) against yesterday's split."]
    for title, part in (("Increase", d.nlargest(top, "delta")), ("Decrease", d.nsmallest(top, "delta"))):
        for row in part[part["delta"].abs() > 1e-4].itertuples():
            lines.append(
                f"{title} {row.segment_key}: {100 * row.prev_share:.1f}% -> {100 * row.share:.1f}% of budget; "
                f"{row.conv_per_100:.2f} conversions per 100 spent "
                f"(90% {row.conv_per_100_lo:.2f}-{row.conv_per_100_hi:.2f}) "
                f"vs {avg:.2f} for the plan overall; P(best) {row.p_best:.2f}."
            )
    held = d[(d["target_share"] - d["share"]) > 0.01]
    if len(held):
        lines.append(f"Pacing held back {len(held)} segment(s) (e.g. {held.iloc[0]['segment_key']}: wanted "
                     f"{100 * held.iloc[0]['target_share']:.1f}%, got {100 * held.iloc[0]['share']:.1f}%); a larger "
                     f"daily cap would move faster at the risk of chasing noise.")
    if sim is not None and not sim.empty and {"thompson", "greedy"} <= set(sim["policy"]):
        ts, gr = sim.set_index("policy").loc["thompson"], sim.set_index("policy").loc["greedy"]
        lines.append(f"Why Thompson sampling: over {int(ts['seeds'])} simulated seeds its regret was "
                     f"{ts['regret_pct']:.1f}% of the oracle's conversions (95% CI {ts['regret_pct_lo']:.1f}-"
                     f"{ts['regret_pct_hi']:.1f}) against {gr['regret_pct']:.1f}% for greedy.")
    return "\n".join(lines)
