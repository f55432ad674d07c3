"""Figures of the budget_bandits pipeline: plan, posteriors, simulated allocation and regret."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jobs.plots import pyplot, save_png
from models.bandits.simulation import SegmentPosterior
from models.common.intervals import t_half_width


def posterior_png(post: SegmentPosterior, p_best: np.ndarray, path: Path, top: int = 8) -> Path:
    """Posterior densities of conversions per 100 spent for the ``top`` segments by P(best)."""
    from scipy.stats import beta as beta_dist

    plt = pyplot()
    idx = np.argsort(-p_best)[:top]
    scale = 100 * post.clicks_per_unit()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i in idx:
        lo, hi = beta_dist.ppf([0.0005, 0.9995], post.alpha[i], post.beta[i])
        x = np.linspace(lo, hi, 300)
        ax.plot(x * scale[i], beta_dist.pdf(x, post.alpha[i], post.beta[i]) / scale[i],
                label=f"{post.keys[i]} (P best {p_best[i]:.2f})")
    ax.set_xlabel("conversions per 100 spent")
    ax.set_ylabel("posterior density")
    ax.set_title(f"Posteriors of the top {len(idx)} segments")
    ax.legend(fontsize=7)
    save_png(fig, path, dpi=110)
    return path


def allocation_png(plans: pd.DataFrame, path: Path, top: int = 8) -> Path:
    """Thompson sampling's simulated shares over days, the ``top`` segments by their largest share."""
    plt = pyplot()
    wide = plans.pivot_table(index="day", columns="segment_key", values="share", aggfunc="sum")
    keep = wide.max().sort_values(ascending=False).index[:top]
    shown = wide[keep].assign(other=wide.drop(columns=keep).sum(axis=1))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.stackplot(pd.to_datetime(shown.index), shown.T.to_numpy(), labels=list(shown.columns))
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of daily budget")
    ax.set_title("Thompson sampling allocation over simulated days (seed 1 of the simulation)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.autofmt_xdate()
    save_png(fig, path, dpi=110)
    return path


def regret_png(daily: pd.DataFrame, path: Path) -> Path:
    """Cumulative regret per policy: mean over seeds with a 95% band (t-interval)."""
    plt = pyplot()
    d = daily.sort_values("step").assign(cum=lambda x: x.groupby(["policy", "seed"])["regret"].cumsum())
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for policy, g in d.groupby("policy"):
        s = g.groupby("step")["cum"].agg(["mean", "std", "count"])
        half = t_half_width(s["std"].to_numpy(), s["count"].to_numpy())
        ax.plot(s.index + 1, s["mean"], label=str(policy))
        ax.fill_between(s.index + 1, s["mean"] - half, s["mean"] + half, alpha=0.2)
    ax.set_xlabel("simulated day")
    ax.set_ylabel("cumulative regret (expected conversions)")
    ax.set_title(f"Regret against the oracle over {d['seed'].nunique()} seeds")
    ax.legend()
    save_png(fig, path, dpi=110)
    return path
