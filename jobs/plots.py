"""Figures logged to MLflow as PNG (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.paths import atomic_path


def pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path, dpi: int = 110, tight: bool = True) -> Path:
    """Lay out, write ``fig`` to ``path`` atomically (a killed task leaves no half PNG) and close it."""
    if tight:
        fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    pyplot().close(fig)
    return Path(path)


def bar_png(labels: pd.Series, values: pd.Series, path: Path, xlabel: str, title: str, color: str = "#3b6ea5") -> Path:
    """Horizontal bar chart, first row on top."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, max(3, 0.28 * len(labels))))
    ax.barh(labels.iloc[::-1], values.iloc[::-1], color=color)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    save_png(fig, path, dpi=110)
    return path


def importance_png(importance: pd.DataFrame, path: Path, top: int = 30) -> Path:
    """Gain share per feature."""
    imp = importance.head(top)
    return bar_png(imp["feature"], imp["gain_share"], path, "share of total gain", "LightGBM feature importance (gain)")


def roc_calibration_png(y: np.ndarray, curves: dict[str, np.ndarray], path: Path, bins: int = 20) -> Path:
    """ROC curves and a reliability diagram for each named score vector on the same labels."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.6))
    for name, p in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        a1.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.4f})")
        edges = np.quantile(p, np.linspace(0, 1, bins + 1))
        idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
        pred = np.bincount(idx, p, bins) / np.maximum(np.bincount(idx, minlength=bins), 1)
        obs = np.bincount(idx, y, bins) / np.maximum(np.bincount(idx, minlength=bins), 1)
        a2.plot(pred, obs, marker="o", ms=3, label=name)
    a1.plot([0, 1], [0, 1], ls=":", c="grey")
    a1.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC on the holdout")
    hi = max(a2.get_xlim()[1], a2.get_ylim()[1])
    a2.plot([0, hi], [0, hi], ls=":", c="grey")
    a2.set(xlabel="mean predicted P(click)", ylabel="observed click rate", title="Reliability (quantile bins)")
    a1.legend(loc="lower right", fontsize=8)
    a2.legend(loc="upper left", fontsize=8)
    save_png(fig, path, dpi=110)
    return path
