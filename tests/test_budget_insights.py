"""The analyst and strategist texts find what was planted in the facts."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from models.bandits.insights import analyst_summary, anomalies, cvr_trends, strategist_recommendation


def _facts(days: int = 28, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = ["app|loyal|de|s000", "mobile|prospecting|fr|s001", "desktop|lookalike|uk|s002"]
    day = np.repeat(pd.date_range("2026-03-01", periods=days).date, len(keys))
    seg = np.tile(keys, days)
    clicks = rng.poisson(2000, size=day.size)
    rate = np.where(seg == keys[1], 0.03, 0.02)
    recent = np.repeat(np.arange(days), len(keys)) >= days - 7
    rate = np.where((seg == keys[1]) & recent, 0.015, rate)  # planted: s001's CVR halves in the last week
    return pd.DataFrame({"day": day, "segment_key": seg, "clicks": clicks, "conv": rng.binomial(clicks, rate),
                         "spent": clicks * 0.5})


def test_trend_finds_the_planted_cvr_drop_and_nothing_else() -> None:
    t = cvr_trends(_facts())
    assert list(t["segment_key"]) == ["mobile|prospecting|fr|s001"]
    assert t["z"].iloc[0] < -3
    text = analyst_summary(_facts())
    assert re.search(r"Trend: mobile\|prospecting\|fr\|s001 CVR fell from [23]\.\d\d% to 1\.\d\d%", text), text


def test_anomaly_finds_a_planted_spike() -> None:
    f = _facts()
    last = f.index[(f["segment_key"] == "app|loyal|de|s000")][-1]
    f.loc[last, "conv"] = 200  # ~40 expected
    f.loc[f.index[-1], "spent"] = f.loc[f.index[-1], "clicks"] * 2.0  # CPC x4 on the last row
    a = anomalies(f)
    kinds = dict(zip(a["segment_key"], a["kind"]))
    assert kinds.get("app|loyal|de|s000") == "conversions"
    assert kinds.get(f.loc[f.index[-1], "segment_key"]) == "cpc"
    assert "Anomaly: app|loyal|de|s000" in analyst_summary(f)


def test_strategist_names_increases_decreases_and_the_evidence() -> None:
    plan = pd.DataFrame(
        {
            "segment_key": ["a", "b", "c"],
            "share": [0.5, 0.3, 0.2],
            "prev_share": [0.3, 0.3, 0.4],
            "target_share": [0.9, 0.05, 0.05],
            "conv_per_100": [5.0, 3.0, 2.0],
            "conv_per_100_lo": [4.0, 2.5, 1.5],
            "conv_per_100_hi": [6.0, 3.5, 2.5],
            "p_best": [0.9, 0.05, 0.05],
        }
    )
    sim = pd.DataFrame({"policy": ["thompson", "greedy"], "seeds": [10, 10], "regret_pct": [4.0, 9.0],
                        "regret_pct_lo": [3.5, 8.0], "regret_pct_hi": [4.5, 10.0]})
    text = strategist_recommendation(plan, (12.0, 8.0, 16.0), sim)
    assert "Increase a: 30.0% -> 50.0%" in text and "Decrease c: 40.0% -> 20.0%" in text
    assert "b:" not in text.split("Pacing")[0]  # unchanged segments are not mentioned
    assert "Pacing held back 1 segment(s) (e.g. a" in text
    assert "regret was 4.0%" in text and "+12.0 (90% interval +8.0 to +16.0)" in text
