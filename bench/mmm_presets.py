"""MMM ROI recovery, interval coverage and fit time on synthetic data in three layouts of the data spec.

``python bench/mmm_presets.py [--seeds 0 1 2 3 4] [--steps 1500]``: for each layout (``national``:
one series, two channels; ``geo``: 6 geos, three channels; ``geo_brand``: 3 geos x 3 brands,
four channels with one spend-only, units with a price) and each seed, a fresh panel from
:func:`models.mmm.synth_panel.generate_panel` (156 weeks), the MAP fit on the first 143 weeks,
300 Laplace draws, and each channel's ROI against the generator's truth: |error| and whether
the 90% interval covers it. Writes bench/results/mmm_presets.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from models.mmm.evaluate import roi_table  # noqa: E402
from models.mmm.model import channel_spend, fit, panel, roi_samples  # noqa: E402
from models.mmm.spec import NATIONAL, Channel, DataSpec  # noqa: E402
from models.mmm.synth_panel import generate_panel  # noqa: E402

NATIONAL_TWO = dataclasses.replace(NATIONAL, channels=(
    Channel("search", spend="search_spend"), Channel("social", volume="social_impressions", spend="social_spend")))
GEO = DataSpec(date={"week": ""}, target="sales", hierarchy=("geo",), channels=tuple(
    Channel(n, volume=f"{n}_impressions", cpm=c) for n, c in [("tv", 4.0), ("radio", 1.0), ("social", 2.0)]))
GEO_BRAND = DataSpec(date={"week": ""}, target="units", price="price", hierarchy=("geo", "brand"), channels=(
    *GEO.channels, Channel("search", spend="search_spend")))
LAYOUTS = {"national": (NATIONAL_TWO, 1), "geo": (GEO, 6), "geo_brand": (GEO_BRAND, 3)}


def one(spec: DataSpec, members: int, seed: int, steps: int) -> tuple[pd.DataFrame, float]:
    """The ROI table against the truth for one synthetic panel, and the fit's seconds."""
    data, truth = generate_panel(spec, members=members, seed=seed)
    d = panel(data, spec)
    t0 = time.perf_counter()
    fitted = fit(d, d.y.shape[1] - 13, steps=steps)
    seconds = time.perf_counter() - t0
    spend = channel_spend(d)
    table = roi_table(roi_samples(fitted, d, 300, seed=0), spend, [], 0.9).set_index("channel")
    table["true_roi"] = truth.roi.set_index("channel")["roi"]
    table["abs_error_pct"] = 100 * (table["roi"] / table["true_roi"] - 1).abs()
    table["covered"] = (table["roi_lo"] <= table["true_roi"]) & (table["true_roi"] <= table["roi_hi"])
    return table.reset_index(), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    out = {}
    for name, (spec, members) in LAYOUTS.items():
        tables, times = [], []
        for seed in args.seeds:
            table, seconds = one(spec, members, seed, args.steps)
            tables.append(table.assign(seed=seed))
            times.append(seconds)
            print(f"{name} seed {seed}: fit {seconds:.1f} s, mean |ROI error| "
                  f"{table['abs_error_pct'].mean():.1f}%, coverage {table['covered'].mean():.0%}", flush=True)
        rec = pd.concat(tables)
        out[name] = {"series": members ** len(spec.hierarchy), "channels": len(spec.channels),
                     "mean_abs_roi_error_pct": round(float(rec["abs_error_pct"].mean()), 1),
                     "median_abs_roi_error_pct": round(float(rec["abs_error_pct"].median()), 1),
                     "coverage_90": round(float(rec["covered"].mean()), 3),
                     "fit_seconds_median": round(float(np.median(times)), 2)}
    write_result("mmm_presets", {"seeds": args.seeds, "adam_steps": args.steps, "layouts": out})


if __name__ == "__main__":
    main()
