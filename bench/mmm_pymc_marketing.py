"""PyMC-Marketing on the same synthetic MMM data, for comparison (never a project dependency).

Run it with a separate environment that has pymc-marketing, from the repository root:

    python3.11 -m venv /tmp/pymc && /tmp/pymc/bin/pip install pymc-marketing==0.19.0
    /tmp/pymc/bin/python bench/mmm_pymc_marketing.py [--seeds 42 1 2]

PyMC-Marketing's ``MMM`` fits one series, so the 72 series are summed to one national
weekly series (units; spend per channel = impressions / 1000 x CPM), with geometric
adstock (16 weeks), logistic saturation, yearly Fourier order 2 and the national baseline
drivers (distribution, log trade spend, log price ratio, log festival, log CPI; standardised)
as controls; NUTS, 2
chains x 500 draws after 500 tuning steps. ROI = contribution x the week's mean net price
/ spend, against the generator's truth. Writes bench/results/mmm_pymc_marketing.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import write_result  # noqa: E402

from models.mmm.schema import CHANNELS, MEDIA  # noqa: E402
from models.mmm.synth import CPM, MmmSpec, generate  # noqa: E402


def national(data: pd.DataFrame) -> pd.DataFrame:
    g = data.assign(
        value=data["Sales_Units"] * data["Net_Price"], ratio=np.log(data["Net_Price"] / data["MRP"])
    ).groupby("week")
    out = pd.DataFrame(
        {
            "date": g.size().index,
            "units": g["Sales_Units"].sum().to_numpy(),
            "price": (g["value"].sum() / g["Sales_Units"].sum()).to_numpy(),
            "distribution": g["Weighted_Distribution"].mean().to_numpy(),
            "trade": np.log(g["Trade_Spend"].mean().to_numpy()),
            "price_ratio": g["ratio"].mean().to_numpy(),
            "festival": np.log(g["Festival_Index"].mean().to_numpy()),
            "cpi": np.log(g["CPI"].mean().to_numpy()),
        }
    )
    controls = ["distribution", "trade", "price_ratio", "festival", "cpi"]
    out[controls] = (out[controls] - out[controls].mean()) / out[controls].std()  # its priors expect O(1) controls
    for ch, col in zip(CHANNELS, MEDIA):
        out[ch] = g[col].sum().to_numpy() / 1000 * CPM[ch]
    return out


def one_seed(seed: int, draws: int, tune: int) -> pd.DataFrame:
    from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation

    data, truth = generate(MmmSpec(seed=seed))
    nat = national(data)
    controls = ["distribution", "trade", "price_ratio", "festival", "cpi"]
    mmm = MMM(date_column="date", channel_columns=CHANNELS, control_columns=controls,
              adstock=GeometricAdstock(l_max=16), saturation=LogisticSaturation(), yearly_seasonality=2)
    t0 = time.perf_counter()
    mmm.fit(nat[["date", *CHANNELS, *controls]], nat["units"], chains=2, cores=2, draws=draws, tune=tune,
            random_seed=seed, progressbar=False)
    fit_s = time.perf_counter() - t0
    contrib = mmm.compute_channel_contribution_original_scale()  # (chain, draw, date, channel), units
    value = (contrib * nat["price"].to_numpy()[None, None, :, None]).sum("date")
    spend = nat[CHANNELS].sum().to_numpy()
    roi = value.stack(sample=("chain", "draw")).transpose("sample", "channel").to_numpy() / spend[None, :]
    true = truth.roi.set_index("channel")["roi"]
    rows = []
    for c, ch in enumerate(CHANNELS):
        est, lo, hi = float(np.median(roi[:, c])), *np.quantile(roi[:, c], [0.05, 0.95])
        rows.append(
            {
                "seed": seed,
                "channel": ch,
                "true_roi": float(true[ch]),
                "roi": est,
                "roi_lo": float(lo),
                "roi_hi": float(hi),
                "covered": bool(lo <= true[ch] <= hi),
                "error_pct": 100 * (est / true[ch] - 1),
                "fit_seconds": fit_s,
            }
        )
    out = pd.DataFrame(rows)
    print(out.round(3).to_string(), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    args = parser.parse_args()
    import pymc_marketing

    rec = pd.concat([one_seed(s, args.draws, args.tune) for s in args.seeds])
    write_result("mmm_pymc_marketing", {
        "tool": f"pymc-marketing {pymc_marketing.__version__} (separate venv), one national series",
        "settings": {"chains": 2, "draws": args.draws, "tune": args.tune, "adstock": "geometric l_max 16",
                     "saturation": "logistic"},
        "seeds": args.seeds,
        "fit_seconds": rec.groupby("seed")["fit_seconds"].first().round(1).tolist(),
        "mean_abs_roi_error_pct": round(float(rec["error_pct"].abs().mean()), 1),
        "coverage_90": round(float(rec["covered"].mean()), 3),
        "per_channel": rec.groupby("channel", sort=False).agg(
            mean_abs_error_pct=("error_pct", lambda e: float(np.abs(e).mean())), coverage=("covered", "mean"),
        ).round(3).reset_index().to_dict(orient="records"),
        "roi": rec.drop(columns="fit_seconds").round(4).to_dict(orient="records"),
    })


if __name__ == "__main__":
    main()
