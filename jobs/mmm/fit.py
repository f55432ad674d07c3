"""fit / evaluate: the hierarchical MAP fit with its Laplace posterior, then holdout, decomposition, ROI.

``fit`` leaves ``fit/fit.npz`` (mode, covariance) and ``fit/posterior.npz`` (the draws every
plan is read against). ``evaluate`` scores the last ``holdout_weeks`` at four levels,
decomposes sales, estimates ROI per channel with intervals (and, on synthetic data,
checks them against the truth), and checks the brand-national holdout against the gate:
a miss stops the run with :class:`GateError`. The ``mmm`` pyfunc is registered by the
last step (``report``), so a run that fails anywhere registers nothing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.mmm import plots
from jobs.mmm.config import MODEL_NAME, MmmConfig
from jobs.mmm.store import load_fit, save_fit, save_posterior
from jobs.paths import RunContext, atomic_path, write_table
from jobs.progress import Progress
from models.common.errors import GateError, require_finite
from models.mmm.evaluate import collinear_groups, level_metrics, recovery, recovery_summary, roi_table
from models.mmm.model import MmmData, channel_spend, contributions, fit, panel, roi_samples
from models.mmm.response import build_posterior
from models.mmm.spec import DataSpec

log = logging.getLogger(__name__)


def load_panel(cfg: MmmConfig, state: dict[str, Any]) -> tuple[MmmData, DataSpec]:
    """The ingested rows as the model's arrays, with the run's data spec."""
    df = pd.read_parquet(state["data_path"])
    spec = cfg.spec(list(df.columns))
    return panel(df, spec), spec


def run_fit(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """MAP fit on all but the last ``holdout_weeks`` weeks, Laplace covariance, posterior draws."""
    import mlflow

    data, _ = load_panel(cfg, state)
    S, C, W = data.media.shape
    train_weeks = W - cfg.holdout_weeks
    progress = Progress("mmm fit (Adam)", total=cfg.adam_steps, unit="steps")

    def on_step(step: int, loss: float) -> None:
        if step >= 0:
            progress.set(step + 1)
            mlflow.log_metric("neg_log_posterior", loss, step=step)
        else:
            log.warning("fit: the mode was not reached exactly (largest gradient %.3g); intervals may be off", loss)

    t0 = time.time()
    fitted = fit(data, train_weeks, steps=cfg.adam_steps, lr=cfg.learning_rate, seed=cfg.seed, log=on_step,
                 adstock=cfg.adstock, saturation=cfg.saturation)
    fit_s = time.time() - t0
    progress.set(cfg.adam_steps)
    progress.done()
    # A NaN anywhere in the mode or its covariance would make every ROI, curve and plan NaN.
    require_finite(f"mmm fit of {ctx.run_id} (the MAP and its Laplace covariance)",
                   largest_parameter=float(np.abs(fitted.theta).max()),
                   largest_covariance=float(np.abs(fitted.cov).max()))
    post = build_posterior(fitted, data, cfg.holdout_weeks, cfg.n_draws, cfg.seed)
    out = ctx.run_dir / "fit"
    with atomic_path(out / "fit.npz") as tmp:
        save_fit(fitted, tmp)
    with atomic_path(out / "posterior.npz") as tmp:
        save_posterior(post, tmp)
    sigma = float(np.exp(fitted.theta[fitted.net.offsets[-2]]))  # log_sigma is the last parameter
    log.info("fit: %d series x %d weeks (%d for training), %d parameters in %.1f s; sigma %.3f",
             S, W, train_weeks, fitted.net.n, fit_s, sigma)
    mlflow.log_params(
        {
            "series": S,
            "weeks": W,
            "train_weeks": train_weeks,
            "parameters": fitted.net.n,
            "adstock": cfg.adstock,
            "saturation": cfg.saturation,
            "adam_steps": cfg.adam_steps,
            "learning_rate": cfg.learning_rate,
            "n_draws": cfg.n_draws,
        }
    )
    mlflow.log_metrics({"fit_seconds": fit_s, "noise_sigma": sigma})
    return {**state, "fit_path": str(out / "fit.npz"), "posterior_path": str(out / "posterior.npz"),
            "fit_seconds": round(fit_s, 1)}


def _truth_tables(truth_dir: Path, weekly: pd.DataFrame, spec: DataSpec,
                  spend: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """True ROI and true total contribution (units) per channel over the rows of this run (all or a subset)."""
    on = ["week", *spec.hierarchy]
    rows = weekly[[*on, *([spec.price] if spec.price else [])]]
    contrib = pd.read_parquet(truth_dir / "contributions.parquet").merge(rows, on=on)
    price = contrib[spec.price].to_numpy() if spec.price else 1.0
    value = pd.Series({ch: float((contrib[ch].to_numpy() * price).sum()) for ch in spec.names})
    return value / pd.Series(spend, index=spec.names), contrib[spec.names].sum()


def run_evaluate(cfg: MmmConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Holdout metrics at four levels, decomposition, ROI (vs the truth when known), gate and registration."""
    import mlflow

    data, spec = load_panel(cfg, state)
    fitted = load_fit(state["fit_path"], data)
    W = data.y.shape[1]
    train = fitted.train_weeks
    base, contrib = contributions(fitted)
    pred = base + contrib.sum(axis=1)
    metrics = level_metrics(data.keys, data.y, pred, {"train": slice(0, train), "holdout": slice(train, W)},
                            spec.report_levels)
    out = ctx.run_dir / "evaluate"
    write_table(metrics, out / "holdout_metrics.csv")
    for r in metrics.itertuples():
        mlflow.log_metrics({f"{r.period}_{r.level}_{k}": getattr(r, k) for k in ("r2", "mape", "wmape")})

    spend = channel_spend(data)
    draws = roi_samples(fitted, data, cfg.n_draws, cfg.seed)
    groups = collinear_groups(data.media)
    table = roi_table(draws, spend, groups, cfg.interval)
    summary: dict[str, float] = {}
    if state.get("truth_dir"):
        weekly = pd.read_parquet(state["data_path"])
        true_roi, true_contrib = _truth_tables(Path(state["truth_dir"]), weekly, spec, spend)
        table = recovery(table, true_roi, true_contrib, pd.Series(contrib.sum(axis=(0, 2)), index=spec.names))
        summary = recovery_summary(table)
        mlflow.log_metrics({f"recovery_{k}": v for k, v in summary.items()})
    write_table(table, out / "roi.csv")
    mlflow.log_metrics({f"roi_{r.channel.replace('+', '_')}": r.roi for r in table.itertuples()})

    value = contrib * data.price[:, None, :]
    by = spec.pooled[0] if spec.pooled else None  # geoindia: per brand
    decomposition = pd.DataFrame({"group": data.keys[by].to_numpy() if by else "National",
                                  "baseline": (base * data.price).sum(axis=1),
                                  **{ch: value[:, c].sum(axis=1) for c, ch in enumerate(spec.names)}})
    decomposition = decomposition.groupby("group").sum().rename_axis(by or "group")
    if by:
        decomposition.loc["National"] = decomposition.sum()
    write_table(decomposition, out / "decomposition_value.csv", index=True)
    pngs = [plots.fit_png(data, pred, train, out / "fit_national.png"),
            plots.waterfall_png(decomposition, spec.names, out / "waterfall.png"),
            plots.roi_png(table, out / "roi.png"),
            plots.loss_png(fitted.loss_history, out / "loss.png")]
    for path in [out / "holdout_metrics.csv", out / "roi.csv", out / "decomposition_value.csv", *pngs]:
        mlflow.log_artifact(str(path), "evaluate")

    gate = metrics[(metrics["level"] == spec.gate) & (metrics["period"] == "holdout")].iloc[0]
    holdout = {"r2": float(gate["r2"]), "mape": float(gate["mape"]), "wmape": float(gate["wmape"])}
    log.info(
        "holdout (%s): R2 %.3f, MAPE %.1f%%, wMAPE %.1f%%; recovery %s",
        spec.gate,
        holdout["r2"],
        100 * holdout["mape"],
        100 * holdout["wmape"],
        {k: round(v, 1) for k, v in summary.items()} or "n/a (no truth)",
    )
    require_finite(f"mmm holdout ({spec.gate}) of {ctx.run_id}", r2=holdout["r2"], mape=holdout["mape"])
    if holdout["r2"] < cfg.gate_r2 or holdout["mape"] > cfg.gate_mape:
        mlflow.set_tag("gate", "failed")
        raise GateError(f"{spec.gate} holdout R2 {holdout['r2']:.3f} (needs >= {cfg.gate_r2}) / MAPE "
                        f"{holdout['mape']:.3f} (needs <= {cfg.gate_mape}): model {MODEL_NAME!r} not registered")
    mlflow.set_tag("gate", "passed")
    return {**state, "holdout": holdout, "recovery": summary}
