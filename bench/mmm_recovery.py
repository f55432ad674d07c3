"""First ROI recovery check of the MMM groundwork (issue 4) on the synthetic demo data.

``python bench/mmm_recovery.py``: fit the hierarchical MAP model on the first 143 weeks of
the synthetic panel (72 series), Laplace draws for 90% ROI intervals, holdout MAPE on the
last 13 weeks at row and national level; true ROI from the generator's ground truth.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from models.mmm_model import contributions, fit, panel, roi_samples  # noqa: E402
from models.mmm_schema import CHANNELS  # noqa: E402
from models.mmm_synth import MmmSpec, generate  # noqa: E402


def main(train_weeks: int = 143, draws: int = 300) -> None:
    data, truth = generate(MmmSpec())
    d = panel(data)
    t0 = time.perf_counter()
    fitted = fit(d, train_weeks=train_weeks, steps=1500, lr=0.05)
    fit_s = time.perf_counter() - t0
    r = roi_samples(fitted, d, truth.params["cpm"], draws, seed=0)
    est = r[r["draw"] == -1][CHANNELS].iloc[0]
    q = r[r["draw"] >= 0][CHANNELS].quantile([0.05, 0.95])
    true = truth.roi.set_index("channel")["roi"]
    table = pd.DataFrame({"true_roi": true, "estimate": est.astype(float), "lo90": q.loc[0.05], "hi90": q.loc[0.95]})
    table["covered"] = (table["lo90"] <= table["true_roi"]) & (table["true_roi"] <= table["hi90"])
    table["error_pct"] = 100 * (table["estimate"] / table["true_roi"] - 1)
    base, contrib = contributions(fitted)
    pred = base + contrib.sum(axis=1)
    hold = slice(train_weeks, None)
    write_result("mmm_recovery", {
        "series": int(d.y.shape[0]), "weeks": int(d.y.shape[1]), "train_weeks": train_weeks, "fit_seconds": round(fit_s, 1),
        "holdout_row_mape": round(float(np.mean(np.abs(pred[:, hold] / d.y[:, hold] - 1))), 4),
        "holdout_national_mape": round(float(np.mean(np.abs(pred[:, hold].sum(0) / d.y[:, hold].sum(0) - 1))), 4),
        "roi": table.round(4).reset_index(names="channel").to_dict(orient="records"),
        "mean_abs_roi_error_pct": round(float(table["error_pct"].abs().mean()), 1),
        "coverage_90": round(float(table["covered"].mean()), 3),
    })


if __name__ == "__main__":
    main()
