"""How good the MMM is: fit metrics at four aggregation levels, and parameter recovery against a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.mmm.spec import GEOINDIA

# Aggregation levels a planner reads (the geoindia preset's: the series, geo x brand, brand nationally, national).
LEVELS = GEOINDIA.report_levels


def _scores(actual: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    err = pred - actual
    sst = float(((actual - actual.mean()) ** 2).sum())
    return {"r2": 1 - float((err ** 2).sum()) / sst if sst > 0 else float("nan"),
            "mape": float(np.mean(np.abs(err) / np.maximum(np.abs(actual), 1e-9))),
            "wmape": float(np.abs(err).sum() / np.abs(actual).sum())}


def level_metrics(keys: pd.DataFrame, actual: np.ndarray, pred: np.ndarray, periods: dict[str, slice],
                  levels: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """R^2, MAPE and wMAPE of weekly sales at each level (rows: level x period), for (S, W) arrays; ``levels``:
    name -> hierarchy columns (default: :data:`LEVELS`).

    At a level, series are summed into groups and every (group, week) of the period is one point.
    """
    rows = []
    for level, cols in (LEVELS if levels is None else levels).items():
        group = keys.groupby(cols, sort=True).ngroup().to_numpy() if cols else np.zeros(len(keys), dtype=int)
        n = int(group.max()) + 1
        agg_a = np.zeros((n, actual.shape[1]))
        agg_p = np.zeros_like(agg_a)
        np.add.at(agg_a, group, actual)
        np.add.at(agg_p, group, pred)
        for period, weeks in periods.items():
            rows.append({"level": level, "period": period, "groups": n,
                         **_scores(agg_a[:, weeks].ravel(), agg_p[:, weeks].ravel())})
    return pd.DataFrame(rows)


def collinear_groups(media: np.ndarray, threshold: float = 0.95) -> list[list[int]]:
    """Channels whose impressions move together within series (median within-series correlation above
    ``threshold``): their separate effects are not identified by the data, only their sum."""
    S, C, _ = media.shape
    corr = np.ones((C, C))
    for i in range(C):  # channel pairs, not rows
        for j in range(i + 1, C):
            a, b = media[:, i] - media[:, i].mean(1, keepdims=True), media[:, j] - media[:, j].mean(1, keepdims=True)
            den = np.sqrt((a ** 2).sum(1) * (b ** 2).sum(1))
            corr[i, j] = corr[j, i] = float(np.median((a * b).sum(1) / np.where(den > 0, den, np.inf)))
    groups: list[list[int]] = []
    for i in range(C):
        linked = [g for g in groups if any(corr[i, k] > threshold for k in g)]
        merged = sorted({i, *[k for g in linked for k in g]})
        groups = [g for g in groups if g not in linked] + [merged]
    return [g for g in groups if len(g) > 1]


def roi_table(roi_draws: pd.DataFrame, spend: np.ndarray, groups: list[list[int]], level: float) -> pd.DataFrame:
    """ROI per channel (MAP and interval) plus one row per collinear group (value over their joint spend).

    ``roi_draws``: one row per draw (``draw`` -1 = MAP) with one ROI column per channel, in ``spend``'s order.
    """
    channels = [c for c in roi_draws.columns if c != "draw"]
    value = roi_draws[channels].to_numpy() * spend[None, :]
    cols = {ch: value[:, [c]] for c, ch in enumerate(channels)}
    cols.update({"+".join(channels[c] for c in g): value[:, g] for g in groups})
    spend_of = {ch: spend[[c]] for c, ch in enumerate(channels)}
    spend_of.update({"+".join(channels[c] for c in g): spend[g] for g in groups})
    is_map = (roi_draws["draw"] == -1).to_numpy()
    rows = []
    for name, v in cols.items():
        roi = v.sum(1) / spend_of[name].sum()
        lo, hi = np.quantile(roi[~is_map], [(1 - level) / 2, (1 + level) / 2])
        rows.append({"channel": name, "group": len(spend_of[name]) > 1, "spend": float(spend_of[name].sum()),
                     "roi": float(roi[is_map][0]), "roi_lo": float(lo), "roi_hi": float(hi)})
    return pd.DataFrame(rows)


def recovery(table: pd.DataFrame, true_roi: pd.Series, true_contrib: pd.Series, est_contrib: pd.Series) -> pd.DataFrame:
    """The ROI table against the truth: true ROI, error %, whether the interval covers it, contribution error %.

    ``true_roi`` / ``*_contrib`` are indexed by channel; group rows get the spend-weighted truth.
    """
    out = table.copy()
    truths, errs = [], []
    for r in out.itertuples():
        members = r.channel.split("+")
        value = sum(true_roi[m] * table.set_index("channel").loc[m, "spend"] for m in members)
        truths.append(value / r.spend)
        errs.append(100 * (sum(est_contrib[m] for m in members) / sum(true_contrib[m] for m in members) - 1))
    out["true_roi"] = truths
    out["error_pct"] = 100 * (out["roi"] / out["true_roi"] - 1)
    out["covered"] = (out["roi_lo"] <= out["true_roi"]) & (out["true_roi"] <= out["roi_hi"])
    out["contribution_error_pct"] = errs
    return out


def recovery_summary(rec: pd.DataFrame) -> dict[str, float]:
    """Mean |ROI error| and coverage over the channels, and over the identified units (collinear channels
    replaced by their group)."""
    channels = rec[~rec["group"]]
    grouped = {m for g in rec.loc[rec["group"], "channel"] for m in g.split("+")}
    identified = pd.concat([channels[~channels["channel"].isin(grouped)], rec[rec["group"]]])
    return {"mean_abs_roi_error_pct": float(channels["error_pct"].abs().mean()),
            "coverage": float(channels["covered"].mean()),
            "identified_mean_abs_roi_error_pct": float(identified["error_pct"].abs().mean()),
            "identified_coverage": float(identified["covered"].mean()),
            "mean_abs_contribution_error_pct": float(channels["contribution_error_pct"].abs().mean())}
