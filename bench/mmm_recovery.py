"""MMM fit time, holdout metrics at four levels and ROI recovery on the synthetic demo data, over seeds.

``python bench/mmm_recovery.py [--seeds 42 1 2]``: for each seed, a fresh synthetic data set
(72 series x 156 weeks, the real file's shape), the demo profile's fit on the first 143
weeks, 300 Laplace draws; the ROI table against the generator's truth, with the collinear
Facebook / Instagram pair also scored as one unit. Writes bench/results/mmm_recovery.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jobs.mmm.config import load  # noqa: E402
from models.mmm.evaluate import collinear_groups, level_metrics, recovery, recovery_summary, roi_table  # noqa: E402
from models.mmm.model import channel_spend, contributions, fit, panel, roi_samples  # noqa: E402
from models.mmm.schema import CHANNELS  # noqa: E402
from models.mmm.synth import MmmSpec, generate  # noqa: E402


def one_seed(seed: int, cfg) -> tuple[dict, pd.DataFrame, pd.DataFrame]:  # type: ignore[no-untyped-def]
    data, truth = generate(MmmSpec(seed=seed, digital_noise=cfg.digital_noise))
    d = panel(data)
    train = d.y.shape[1] - cfg.holdout_weeks
    t0 = time.perf_counter()
    fitted = fit(d, train, steps=cfg.adam_steps, lr=cfg.learning_rate, seed=cfg.seed)
    fit_s = time.perf_counter() - t0
    spend = channel_spend(d)
    table = roi_table(roi_samples(fitted, d, cfg.n_draws, seed=0), spend, collinear_groups(d.media), cfg.interval)
    base, contrib = contributions(fitted)
    true_units = truth.contributions.sort_values(["Geo", "Brand", "SKU", "week"])[CHANNELS].sum()
    rec = recovery(table, truth.roi.set_index("channel")["roi"], true_units,
                   pd.Series(contrib.sum(axis=(0, 2)), index=CHANNELS)).assign(seed=seed)
    metrics = level_metrics(d.keys, d.y, base + contrib.sum(axis=1), {"holdout": slice(train, None)}).assign(seed=seed)
    print(f"seed {seed}: fit {fit_s:.1f} s\n{rec.round(3).to_string()}", flush=True)
    return {"seed": seed, "fit_seconds": round(fit_s, 1), **recovery_summary(rec)}, rec, metrics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    args = parser.parse_args()
    cfg = load("demo")
    runs, recs, mets = zip(*(one_seed(s, cfg) for s in args.seeds))
    rec, met = pd.concat(recs), pd.concat(mets)
    channels = rec[~rec["group"]]
    grouped = {m for g in rec.loc[rec["group"], "channel"] for m in g.split("+")}
    identified = pd.concat([channels[~channels["channel"].isin(grouped)], rec[rec["group"]]])
    write_result(
        "mmm_recovery",
        {
            "data": "synthetic, 72 series x 156 weeks per seed, last 13 weeks held out",
            "settings": {"adam_steps": cfg.adam_steps, "n_draws": cfg.n_draws, "interval": cfg.interval},
            "seeds": list(args.seeds),
            "fit_seconds": [r["fit_seconds"] for r in runs],
            "holdout": met.groupby("level", sort=False)[["r2", "mape", "wmape"]]
            .mean()
            .round(4)
            .reset_index()
            .to_dict(orient="records"),
            "per_seed": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in runs],
            "mean_abs_roi_error_pct": round(float(channels["error_pct"].abs().mean()), 1),
            "coverage_90": round(float(channels["covered"].mean()), 3),
            "identified_mean_abs_roi_error_pct": round(float(identified["error_pct"].abs().mean()), 1),
            "identified_coverage_90": round(float(identified["covered"].mean()), 3),
            "per_channel": rec.groupby("channel", sort=False)
            .agg(
                mean_abs_error_pct=("error_pct", lambda e: float(np.abs(e).mean())),
                coverage=("covered", "mean"),
            )
            .round(3)
            .reset_index()
            .to_dict(orient="records"),
            "roi": rec[["seed", "channel", "true_roi", "roi", "roi_lo", "roi_hi", "covered", "error_pct"]]
            .round(4)
            .to_dict(orient="records"),
        },
    )


if __name__ == "__main__":
    main()
