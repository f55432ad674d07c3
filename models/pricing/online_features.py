"""The 29 session features kept online: a session's state is updated event by event, and the features are
read from it in O(1) (definitions in :mod:`models.pricing.session_features`; the batch Spark job computes
the same numbers over all events at once).

The state is a plain dict (msgpack- and JSON-able) so it can live in Redis. Times are kept in integer
milliseconds and the gap statistics as integer sums, so the gap mean and standard deviation are exact and
an event that arrives out of time order (which splits one gap into two) is undone exactly. Prices use
Welford's update, which, like Spark's, gives exactly 0 for equal prices. An event already in the state
(same timestamp, type and product) is not counted twice.
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Any

from models.pricing.session_features import BROWSERS, FEATURES, HEADLESS_PATTERN, MOBILE_PATTERN

COUNTED_TYPES = {"product_view": "n_product_views", "add_to_cart": "n_carts", "remove_from_cart": "n_removes",
                 "hover": "n_hovers", "search": "n_searches"}
_HEADLESS = re.compile(HEADLESS_PATTERN, re.IGNORECASE)
_MOBILE = re.compile(MOBILE_PATTERN, re.IGNORECASE)


def new_state() -> dict[str, Any]:
    """The state of a session with no event yet."""
    return {"ts": [], "gaps": [], "gap_sum": 0, "gap_sq": 0, "gaps_under_1s": 0, "keys": [],
            "first": None, "counts": {v: 0 for v in COUNTED_TYPES.values()}, "products": [], "n_product_events": 0,
            "max_page_depth": None, "scroll_sum": 0.0, "scroll_n": 0, "price_n": 0, "price_mean": 0.0,
            "price_m2": 0.0, "price_min": None, "price_max": None, "categories": {}}


def event_key(event: dict[str, Any]) -> str:
    """What makes an event unique within its session (the clickstream contract's compound key)."""
    return f"{int(event['timestamp'])}|{event['eventType']}|{int(event['productId'])}"


def _add_gap(s: dict[str, Any], gap_ms: int, sign: int) -> None:
    if sign > 0:
        bisect.insort(s["gaps"], gap_ms)
    else:
        del s["gaps"][bisect.bisect_left(s["gaps"], gap_ms)]
    s["gap_sum"] += sign * gap_ms
    s["gap_sq"] += sign * gap_ms * gap_ms
    s["gaps_under_1s"] += sign * (gap_ms < 1000)


def add_event(s: dict[str, Any], event: dict[str, Any]) -> bool:
    """Fold one event (the clickstream schema) into ``s`` in place; False if it was already there."""
    key = event_key(event)
    pos = bisect.bisect_left(s["keys"], key)
    if pos < len(s["keys"]) and s["keys"][pos] == key:
        return False
    s["keys"].insert(pos, key)
    t = int(event["timestamp"])
    ts = s["ts"]
    i = bisect.bisect_right(ts, t)  # after equal timestamps: arrival order breaks ties
    if 0 < i < len(ts):
        _add_gap(s, ts[i] - ts[i - 1], -1)
    if i > 0:
        _add_gap(s, t - ts[i - 1], +1)
    if i < len(ts):
        _add_gap(s, ts[i] - t, +1)
    ts.insert(i, t)
    if i == 0 and (s["first"] is None or t < s["first"]["timestamp"]):
        s["first"] = {"timestamp": t, "experimentId": event["experimentId"], "userAgent": event["userAgent"]}
    counted = COUNTED_TYPES.get(event["eventType"])
    if counted:
        s["counts"][counted] += 1
    pid = int(event["productId"])
    if pid >= 0:
        s["n_product_events"] += 1
        j = bisect.bisect_left(s["products"], pid)
        if j == len(s["products"]) or s["products"][j] != pid:
            s["products"].insert(j, pid)
    depth = int(event["pageDepth"])
    s["max_page_depth"] = depth if s["max_page_depth"] is None else max(s["max_page_depth"], depth)
    s["scroll_sum"] += float(event["scrollDepth"])
    s["scroll_n"] += 1
    price = event.get("price")
    if price is not None and not (isinstance(price, float) and math.isnan(price)):
        x = float(price)
        s["price_n"] += 1
        delta = x - s["price_mean"]
        s["price_mean"] += delta / s["price_n"]
        s["price_m2"] += delta * (x - s["price_mean"])
        s["price_min"] = x if s["price_min"] is None else min(s["price_min"], x)
        s["price_max"] = x if s["price_max"] is None else max(s["price_max"], x)
    category = event.get("category")
    if category is not None:
        s["categories"][category] = s["categories"].get(category, 0) + 1
    return True


def _median(sorted_values: list[int]) -> float:
    n = len(sorted_values)
    mid = n // 2
    return float(sorted_values[mid]) if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2.0


def browser_family(user_agent: str) -> float:
    """The browser code of ``user_agent`` (first match of BROWSERS wins, 0 when none)."""
    ua = user_agent.lower()
    return float(next((code for needle, code in BROWSERS if needle in ua), 0))


def features(s: dict[str, Any]) -> dict[str, float]:
    """The 29 features of the session in state ``s`` (every one 0.0 for a session without events)."""
    n = len(s["ts"])
    if n == 0:
        return dict.fromkeys(FEATURES, 0.0)
    g = len(s["gaps"])
    t0, t1 = s["ts"][0], s["ts"][-1]
    duration = (t1 - t0) / 1000.0
    counts = s["counts"]
    cats = s["categories"]
    n_cat = sum(cats.values())
    entropy = (math.log(n_cat) - sum(c * math.log(c) for c in cats.values()) / n_cat) if n_cat else 0.0
    pmin, pmax = s["price_min"], s["price_max"]
    ua = s["first"]["userAgent"]
    out = {
        "velocity": n * 60.0 / max(duration, 1.0),
        "gap_mean": s["gap_sum"] / g / 1000.0 if g else 0.0,
        "gap_median": _median(s["gaps"]) / 1000.0 if g else 0.0,
        # Exact in integers: (g * sum x^2 - (sum x)^2) / (g (g - 1)), in ms^2.
        "gap_std": math.sqrt((g * s["gap_sq"] - s["gap_sum"] ** 2) / (g * (g - 1))) / 1000.0 if g > 1 else 0.0,
        "gap_min": s["gaps"][0] / 1000.0 if g else 0.0,
        "share_gaps_under_1s": s["gaps_under_1s"] / g if g else 0.0,
        "duration_s": duration,
        "start_hour": float(math.floor((t0 / 1000.0 % 86400) / 3600)),
        "n_events": float(n),
        "n_carts": float(counts["n_carts"]), "n_removes": float(counts["n_removes"]),
        "n_hovers": float(counts["n_hovers"]), "n_searches": float(counts["n_searches"]),
        "cart_to_view": counts["n_carts"] / max(counts["n_product_views"], 1),
        "unique_products": float(len(s["products"])),
        "revisit_ratio": 1 - len(s["products"]) / s["n_product_events"] if s["n_product_events"] else 0.0,
        "max_page_depth": float(s["max_page_depth"]),
        "mean_scroll": s["scroll_sum"] / s["scroll_n"],
        "price_mean": s["price_mean"] if s["price_n"] else 0.0,
        "price_std": math.sqrt(s["price_m2"] / (s["price_n"] - 1)) if s["price_n"] > 1 else 0.0,
        "price_min": pmin if pmin is not None else 0.0,
        "price_max": pmax if pmax is not None else 0.0,
        "category_entropy": max(entropy, 0.0),
        "n_categories": float(len(cats)),
        "product_view_share": counts["n_product_views"] / n,
        "price_range_ratio": pmax / pmin if pmin is not None and pmin > 0 else 0.0,
        "browser_family": browser_family(ua),
        "is_headless": float(bool(_HEADLESS.search(ua))),
        "is_mobile": float(bool(_MOBILE.search(ua))),
    }
    return {k: out[k] for k in FEATURES}
