"""Plotly figures of the pages. Each is returned as a figure; the pages embed them with plotly.js served by the
app itself (no CDN: the Airflow UI may have no internet)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

LAYOUT = dict(template="plotly_white", height=360, margin=dict(l=60, r=20, t=50, b=50))


def model_versions(history: pd.DataFrame, model: str, measure: str) -> go.Figure:
    """Score per version over time, the oracle beside it, the champion and challenger marked."""
    h = history[history["model"] == model]
    fig = go.Figure(go.Scatter(x=h["created"], y=h["score"], mode="lines+markers", name=measure,
                               text=[f"v{v}" for v in h["version"]], hovertemplate="%{text}: %{y:.4f}<extra></extra>"))
    if h["oracle"].notna().any():
        fig.add_trace(go.Scatter(x=h["created"], y=h["oracle"], mode="lines+markers", name="oracle",
                                 line=dict(dash="dot")))
    for alias, symbol in (("champion", "star"), ("challenger", "diamond")):
        a = h[h["alias"] == alias]
        if len(a):
            fig.add_trace(go.Scatter(x=a["created"], y=a["score"], mode="markers", name=alias,
                                     marker=dict(symbol=symbol, size=16)))
    fig.update_layout(title=f"{model}: {measure} per version", xaxis_title="registered", yaxis_title=measure,
                      **LAYOUT)
    return fig


def budget_plan(plan: pd.DataFrame) -> go.Figure:
    """Tomorrow's share per segment with the conversions per 100 spent and its 90% posterior band."""
    p = plan.sort_values("share")
    fig = go.Figure(go.Bar(x=p["share"], y=p["segment_key"], orientation="h", name="share of budget"))
    fig.add_trace(go.Scatter(x=p["conv_per_100"], y=p["segment_key"], mode="markers", name="conversions per 100",
                             xaxis="x2", error_x=dict(type="data", symmetric=False,
                                                      array=p["conv_per_100_hi"] - p["conv_per_100"],
                                                      arrayminus=p["conv_per_100"] - p["conv_per_100_lo"])))
    fig.update_layout(title="Plan: share per segment, conversions per 100 spent (90% band)",
                      xaxis=dict(title="share", tickformat=".0%"),
                      xaxis2=dict(title="conversions per 100", overlaying="x", side="top"),
                      **{**LAYOUT, "height": max(360, 24 * len(p) + 120)})
    return fig


def budget_shares(thompson: pd.DataFrame) -> go.Figure:
    """Thompson sampling's split learning day by day (mean over the simulated seeds)."""
    s = thompson.groupby(["day", "segment_key"], as_index=False)["share"].mean()
    fig = go.Figure([go.Scatter(x=g["day"], y=g["share"], mode="lines", stackgroup="one", name=str(seg))
                     for seg, g in s.groupby("segment_key")])
    fig.update_layout(title="Simulated days: Thompson sampling's shares", xaxis_title="day",
                      yaxis=dict(title="share", tickformat=".0%"), **LAYOUT)
    return fig


def budget_conversions(daily: pd.DataFrame) -> go.Figure:
    """Conversions per simulated day for each policy (mean over seeds) against the oracle's expected ones."""
    m = daily.groupby(["policy", "day"], as_index=False)[["conv", "oracle_conv"]].mean()
    fig = go.Figure([go.Scatter(x=g["day"], y=g["conv"], mode="lines+markers", name=str(p))
                     for p, g in m.groupby("policy")])
    oracle = m.groupby("day", as_index=False)["oracle_conv"].mean()
    fig.add_trace(go.Scatter(x=oracle["day"], y=oracle["oracle_conv"], mode="lines", name="oracle (expected)",
                             line=dict(dash="dot", color="black")))
    fig.update_layout(title="Conversions per simulated day, learning against the oracle", xaxis_title="day",
                      yaxis_title="conversions", **LAYOUT)
    return fig


def budget_regret(daily: pd.DataFrame) -> go.Figure:
    """Cumulative regret against the oracle per policy (mean over seeds)."""
    d = daily.sort_values(["policy", "seed", "day"]).copy()
    d["cum_regret"] = d.groupby(["policy", "seed"])["regret"].cumsum()
    m = d.groupby(["policy", "day"], as_index=False)["cum_regret"].mean()
    fig = go.Figure([go.Scatter(x=g["day"], y=g["cum_regret"], mode="lines+markers", name=str(p))
                     for p, g in m.groupby("policy")])
    fig.update_layout(title="Cumulative regret against the oracle (expected conversions lost)", xaxis_title="day",
                      yaxis_title="conversions", **LAYOUT)
    return fig


COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880")


def _band(x: pd.Series, lo: pd.Series, hi: pd.Series, name: str, colour: str, visible: bool = True) -> go.Scatter:
    """An interval as one filled polygon (upper edge out, lower edge back), in its line's colour."""
    return go.Scatter(x=list(x) + list(x[::-1]), y=list(hi) + list(lo[::-1]), fill="toself", mode="lines",
                      line=dict(width=0, color=colour), fillcolor=colour, opacity=0.2, name=name, showlegend=False,
                      hoverinfo="skip", visible=visible)


def mmm_curves(curves: pd.DataFrame, level: str) -> go.Figure:
    """Incremental value against spend per channel with its interval; per brand or geo, a menu picks the group."""
    c = curves[curves["level"] == level].sort_values(["group", "channel", "spend"])
    groups = list(dict.fromkeys(c["group"]))
    colour = {ch: COLOURS[i % len(COLOURS)] for i, ch in enumerate(dict.fromkeys(c["channel"]))}
    fig, owner = go.Figure(), []
    for g in groups:
        for ch, d in c[c["group"] == g].groupby("channel", sort=False):
            fig.add_trace(_band(d["spend"], d["incremental_lo"], d["incremental_hi"], f"{ch} interval", colour[ch],
                                g == groups[0]))
            fig.add_trace(go.Scatter(x=d["spend"], y=d["incremental_value"], mode="lines", name=str(ch),
                                     line=dict(color=colour[ch]), visible=g == groups[0]))
            owner += [g, g]
    if len(groups) > 1:
        fig.update_layout(updatemenus=[dict(x=1.0, y=1.18, buttons=[
            dict(label=str(g), method="update", args=[{"visible": [o == g for o in owner]}]) for g in groups])])
    fig.update_layout(title=f"Response curves ({level}): incremental value against spend", xaxis_title="spend",
                      yaxis_title="incremental value", **LAYOUT)
    return fig


def mmm_shares(shares: pd.DataFrame) -> go.Figure:
    """Today's split of the budget and the optimiser's."""
    fig = go.Figure([go.Bar(x=shares["channel"], y=shares["current_share"], name="today"),
                     go.Bar(x=shares["channel"], y=shares["optimal_share"], name="optimiser")])
    fig.update_layout(title="Budget split per channel: today and the optimiser's", barmode="group",
                      yaxis=dict(title="share", tickformat=".0%"), **LAYOUT)
    return fig


def _errors(d: pd.DataFrame, col: str) -> dict:
    return dict(type="data", symmetric=False, array=d[f"{col}_hi"] - d[col], arrayminus=d[col] - d[f"{col}_lo"])


def market_headline(nights: pd.DataFrame) -> go.Figure:
    """The market's ROAS per night with its interval over seeds."""
    fig = go.Figure([_band(nights["night"], nights["market_roas.lo"], nights["market_roas.hi"], "interval",
                           COLOURS[0]),
                     go.Scatter(x=nights["night"], y=nights["market_roas"], mode="lines+markers", name="market ROAS",
                                line=dict(color=COLOURS[0]))])
    fig.update_layout(title="Market ROAS per night (interval over seeds)", xaxis_title="night",
                      yaxis_title="ROAS", **LAYOUT)
    return fig


def market_advertisers(advertisers: pd.DataFrame, metric: str, title: str) -> go.Figure:
    """One advertiser metric across nights, a line per advertiser with its interval as error bars."""
    fig = go.Figure([go.Scatter(x=d["night"], y=d[metric], mode="lines+markers", name=str(a),
                                error_y=_errors(d, metric))
                     for a, d in advertisers.sort_values("night").groupby("advertiser", sort=False)])
    fig.update_layout(title=title, xaxis_title="night", **LAYOUT)
    return fig


def grouped_bars(df: pd.DataFrame, x: str, y: str, by: str, title: str) -> go.Figure:
    """Bars of ``y`` per ``x``, one colour per ``by``, each with its interval (``<y>_lo``, ``<y>_hi``)."""
    fig = go.Figure([go.Bar(x=d[x], y=d[y], name=str(k), error_y=_errors(d, y)) for k, d in df.groupby(by, sort=False)])
    fig.update_layout(title=title, barmode="group", yaxis_title=y, **LAYOUT)
    return fig


def market_learned(learned: pd.DataFrame) -> go.Figure:
    """ROAS of each learned bidder next to the scripted strategy it replaces."""
    return grouped_bars(learned, "agent", "roas", "policy", "Learned bidders vs their scripts: ROAS (latest night)")


def market_pricing(pricing: pd.DataFrame) -> go.Figure:
    """Revenue per pricing policy in each scenario (latest night)."""
    return grouped_bars(pricing, "scenario", "revenue", "policy",
                        "Pricing policies: revenue per scenario (latest night)")
