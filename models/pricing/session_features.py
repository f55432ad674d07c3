"""The 29 session features: their names, groups and definitions.

Temporal 8, behavioural 10, product 8, user agent 3. The Spark job that computes them is
``jobs/pricing_models/session_features.py``; the pandas reference used to check it lives in the
tests (tests/session_features_pandas.py); both follow the definitions below. Gaps are seconds
between consecutive events of a session in time order; statistics over no values are 0; standard
deviations are sample (ddof 1).
"""

from __future__ import annotations

TEMPORAL = ["velocity", "gap_mean", "gap_median", "gap_std", "gap_min", "share_gaps_under_1s", "duration_s",
            "start_hour"]
BEHAVIOURAL = ["n_events", "n_carts", "n_removes", "n_hovers", "n_searches", "cart_to_view", "unique_products",
               "revisit_ratio", "max_page_depth", "mean_scroll"]
PRODUCT = ["price_mean", "price_std", "price_min", "price_max", "category_entropy", "n_categories",
           "product_view_share", "price_range_ratio"]
USER_AGENT = ["browser_family", "is_headless", "is_mobile"]
FEATURES = TEMPORAL + BEHAVIOURAL + PRODUCT + USER_AGENT
HEADLESS_PATTERN = (
    "headless|python-requests|curl|wget|bot|spider|crawler|phantomjs|selenium"  # matched case-insensitively
)
MOBILE_PATTERN = "mobile|android|iphone|ipad"
# Browser family codes, first match wins: Edge before Chrome (Edge also says Chrome), Chrome before Safari.
BROWSERS = [("edg/", 4), ("firefox", 3), ("chrome", 1), ("safari", 2)]
