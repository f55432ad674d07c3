"""The mmm pipeline's figures (PNG, logged to MLflow): fit, waterfall, ROI, curves, shares, frontier, what-if."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jobs.plots import pyplot, save_png

PALETTE = ["#3b6ea5", "#c0392b", "#2e86c1", "#8e44ad", "#7f8c8d", "#d68910", "#27ae60", "#e67e22", "#16a085",
           "#2c3e50"]


def fit_png(data: object, pred: np.ndarray, train_weeks: int, path: Path) -> Path:
    """National weekly sales, actual vs fitted, the holdout shaded."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    weeks = data.weeks  # type: ignore[attr-defined]
    ax.plot(weeks, data.y.sum(axis=0), label="actual", color="black", lw=1)  # type: ignore[attr-defined]
    ax.plot(weeks, pred.sum(axis=0), label="model", color="#c0392b", lw=1)
    ax.axvspan(weeks[train_weeks], weeks[-1], color="grey", alpha=0.2, label="holdout (not fitted)")
    ax.set(ylabel="sales units per week", title="National sales: actual vs model")
    ax.legend()
    return save_png(fig, path)


def waterfall_png(decomposition: pd.DataFrame, channels: list[str], path: Path) -> Path:
    """Sales value from the baseline then each channel, one waterfall per group (e.g. brand) and nationally."""
    plt = pyplot()
    n = len(decomposition)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4), squeeze=False)
    for ax, (name, row) in zip(axes[0], decomposition.iterrows()):
        parts = row[["baseline", *channels]]
        start = np.r_[0, np.cumsum(parts.to_numpy())[:-1]]
        colors = ["#bdc3c7", *[PALETTE[i % len(PALETTE)] for i in range(len(channels))]]
        ax.bar(range(len(parts)), parts.to_numpy(), bottom=start, color=colors)
        ax.bar(len(parts), parts.sum(), color="black")
        ax.set_xticks(range(len(parts) + 1), [*parts.index, "total"], rotation=60, fontsize=8)
        media = parts[channels].sum() / parts.sum()
        ax.set_title(f"{name}: media {media:.1%} of value", fontsize=10)
    axes[0][0].set_ylabel("sales value")
    return save_png(fig, path)


def roi_png(table: pd.DataFrame, path: Path) -> Path:
    """ROI per channel with its interval (and the true ROI when known)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    ax.errorbar(table["roi"], y, xerr=[table["roi"] - table["roi_lo"], table["roi_hi"] - table["roi"]], fmt="o",
                color="#3b6ea5", label="estimate, interval")
    if "true_roi" in table.columns:
        ax.scatter(table["true_roi"], y, marker="x", color="#c0392b", zorder=3, label="truth")
    ax.set_yticks(y, table["channel"])
    ax.axvline(1.0, color="grey", ls=":")
    ax.set(xlabel="ROI (sales value per unit of spend)", title="ROI per channel")
    ax.legend(fontsize=8)
    return save_png(fig, path)


def loss_png(history: list[float], path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(len(history)) * 100, history)
    ax.set(xlabel="Adam step (last point: after L-BFGS and Newton)", ylabel="negative log posterior",
           title="MAP fit")
    return save_png(fig, path)


def curves_png(curves: pd.DataFrame, level: str, path: Path) -> Path:
    """Incremental value vs spend per channel: bands nationally, one line per brand / geo otherwise."""
    plt = pyplot()
    sub = curves[curves["level"] == level]
    channels = list(dict.fromkeys(curves["channel"]))
    cols = min(3, len(channels))
    rows = -(-len(channels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.5 * rows), squeeze=False)
    for ax in axes.ravel()[len(channels):]:
        ax.set_visible(False)
    for ax, ch in zip(axes.ravel(), channels):
        for name, g in sub[sub["channel"] == ch].groupby("group"):
            line = ax.plot(g["spend"], g["incremental_value"], label=str(name))[0]
            if level == "national":
                ax.fill_between(
                    g["spend"], g["incremental_lo"], g["incremental_hi"], alpha=0.25, color=line.get_color()
                )
            today = g[np.isclose(g["multiplier"], 1.0)]
            ax.scatter(today["spend"], today["incremental_value"], color=line.get_color(), s=18)
        ax.set_title(ch)
        ax.set(xlabel="spend over the quarter", ylabel="incremental sales value")
    if level != "national":
        axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Response curves ({level}; dots: today's spend)")
    return save_png(fig, path)


def shares_png(channels: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(channels))
    ax.bar(x - 0.2, channels["current_share"], 0.4, label="today")
    ax.bar(x + 0.2, channels["optimal_share"], 0.4, label="optimal")
    ax.set_xticks(x, channels["channel"])
    ax.set(ylabel="share of budget", title="Budget split: today vs optimal")
    ax.legend()
    return save_png(fig, path)


def frontier_png(front: pd.DataFrame, today: float, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(front["budget"], front["optimal_value"], "o-", label="optimal split")
    ax.plot(front["budget"], front["current_mix_value"], "s--", label="today's split, scaled")
    ax.axvline(today, color="grey", ls=":", label="today's budget")
    ax.set(xlabel="budget over the quarter", ylabel="predicted sales value", title="Budget-efficiency frontier")
    ax.legend()
    return save_png(fig, path)


def whatif_png(table: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    t = table[table["scenario"] != "current"]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(t) + 1.5))
    y = np.arange(len(t))[::-1]
    ax.errorbar(
        t["delta_value"],
        y,
        xerr=[t["delta_value"] - t["delta_value_lo"], t["delta_value_hi"] - t["delta_value"]],
        fmt="o",
    )
    ax.axvline(0, color="grey", ls=":")
    ax.set_yticks(y, t["scenario"])
    ax.set(xlabel="change in sales value vs today", title="What-if scenarios")
    return save_png(fig, path)
