"""The plain pandas reference of models.pricing.session_features: vectorised groupby aggregations.

Used by the tests (Spark must agree with it) and by bench/session_features_speed.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.pricing.session_features import BROWSERS, FEATURES, HEADLESS_PATTERN, MOBILE_PATTERN


def session_features_pandas(events: pd.DataFrame) -> pd.DataFrame:
    ev = events.sort_values(["sessionId", "timestamp"], kind="stable").copy()
    ev["gap"] = ev.groupby("sessionId")["timestamp"].diff() / 1000.0
    ev["prod"] = ev["productId"].where(ev["productId"] >= 0)
    g = ev.groupby("sessionId")
    out = pd.DataFrame({
        "experimentId": g["experimentId"].first(), "userAgent": g["userAgent"].first(),
        "n_events": g.size(), "t0": g["timestamp"].min(), "t1": g["timestamp"].max(),
        "gap_mean": g["gap"].mean(), "gap_median": g["gap"].median(), "gap_std": g["gap"].std(),
        "gap_min": g["gap"].min(),
        "share_gaps_under_1s": (ev["gap"] < 1).where(ev["gap"].notna()).astype(float).groupby(ev["sessionId"]).mean(),
        **{name: (ev["eventType"] == etype).groupby(ev["sessionId"]).sum() for name, etype in (
            ("n_product_views", "product_view"), ("n_carts", "add_to_cart"), ("n_removes", "remove_from_cart"),
            ("n_hovers", "hover"), ("n_searches", "search"))},
        "unique_products": g["prod"].nunique(), "n_product_events": g["prod"].count(),
        "max_page_depth": g["pageDepth"].max(), "mean_scroll": g["scrollDepth"].mean(),
        "price_mean": g["price"].mean(), "price_std": g["price"].std(), "price_min": g["price"].min(),
        "price_max": g["price"].max(), "n_categories": g["category"].nunique(),
    })
    counts = ev.groupby(["sessionId", "category"]).size()
    p = counts / counts.groupby(level="sessionId").transform("sum")
    out["category_entropy"] = (-(p * np.log(p))).groupby(level="sessionId").sum()
    out["duration_s"] = (out["t1"] - out["t0"]) / 1000.0
    out["velocity"] = out["n_events"] * 60.0 / out["duration_s"].clip(lower=1.0)
    out["start_hour"] = np.floor((out["t0"] / 1000.0 % 86400) / 3600)
    out["cart_to_view"] = out["n_carts"] / out["n_product_views"].clip(lower=1)
    out["revisit_ratio"] = np.where(out["n_product_events"] > 0,
                                    1 - out["unique_products"] / out["n_product_events"].clip(lower=1), 0.0)
    out["product_view_share"] = out["n_product_views"] / out["n_events"]
    out["price_range_ratio"] = np.where(out["price_min"] > 0, out["price_max"] / out["price_min"], 0.0)
    ua = out["userAgent"].str.lower()
    out["browser_family"] = 0
    for needle, code in reversed(BROWSERS):
        out.loc[ua.str.contains(needle, regex=False), "browser_family"] = code
    out["is_headless"] = out["userAgent"].str.contains(HEADLESS_PATTERN, case=False, regex=True).astype(float)
    out["is_mobile"] = out["userAgent"].str.contains(MOBILE_PATTERN, case=False, regex=True).astype(float)
    return out.reset_index()[["sessionId", "experimentId", *FEATURES]].fillna(0.0).astype({c: float for c in FEATURES})
