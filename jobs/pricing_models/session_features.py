"""The 29 session features as Spark column expressions (definitions in :mod:`models.pricing.session_features`)."""

from __future__ import annotations

from typing import Any

from models.pricing.session_features import BROWSERS, FEATURES, HEADLESS_PATTERN, MOBILE_PATTERN


def session_features(events: Any) -> Any:
    """Spark DataFrame of events -> one row per session: sessionId, experimentId, the 29 features."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # One shuffle: both windows and the aggregation are keyed by sessionId (hash partitioning
    # on sessionId also serves the (sessionId, category) window), so Spark sorts once per
    # partition instead of exchanging the events three times.
    w = Window.partitionBy("sessionId").orderBy("timestamp")
    ev = (events.withColumn("gap", (F.col("timestamp") - F.lag("timestamp").over(w)) / 1000.0)
          .withColumn("n_cat", F.count(F.lit(1)).over(Window.partitionBy("sessionId", "category"))))
    is_type = {t: (F.col("eventType") == t).cast("int") for t in ("product_view", "add_to_cart", "remove_from_cart",
                                                                  "hover", "search")}
    prod = F.when(F.col("productId") >= 0, F.col("productId"))
    agg = ev.groupBy("sessionId").agg(
        F.first("experimentId").alias("experimentId"),
        F.first("userAgent").alias("userAgent"),
        F.count(F.lit(1)).alias("n_events"),
        F.min("timestamp").alias("t0"), F.max("timestamp").alias("t1"),
        F.avg("gap").alias("gap_mean"), F.median("gap").alias("gap_median"), F.stddev("gap").alias("gap_std"),
        F.min("gap").alias("gap_min"), F.avg((F.col("gap") < 1.0).cast("double")).alias("share_gaps_under_1s"),
        F.sum(is_type["product_view"]).alias("n_product_views"), F.sum(is_type["add_to_cart"]).alias("n_carts"),
        F.sum(is_type["remove_from_cart"]).alias("n_removes"), F.sum(is_type["hover"]).alias("n_hovers"),
        F.sum(is_type["search"]).alias("n_searches"),
        # size(collect_set) rather than countDistinct: several distinct counts make Spark expand every row.
        F.size(F.collect_set(prod)).alias("unique_products"), F.count(prod).alias("n_product_events"),
        F.max("pageDepth").alias("max_page_depth"), F.avg("scrollDepth").alias("mean_scroll"),
        F.avg("price").alias("price_mean"), F.stddev("price").alias("price_std"),
        F.min("price").alias("price_min"), F.max("price").alias("price_max"),
        F.size(F.collect_set("category")).alias("n_categories"),
        # Entropy of the category shares p_k = n_k / N: H = log N - (1/N) sum over events of log n_k.
        F.count("category").alias("n_cat_events"),
        F.sum(F.when(F.col("category").isNotNull(), F.log(F.col("n_cat")))).alias("sum_log_n_cat"),
    )
    duration = (F.col("t1") - F.col("t0")) / 1000.0
    ua = F.lower(F.col("userAgent"))
    family = F.lit(0)
    for needle, code in reversed(BROWSERS):
        family = F.when(ua.contains(needle), F.lit(code)).otherwise(family)
    entropy = F.log(F.col("n_cat_events")) - F.col("sum_log_n_cat") / F.col("n_cat_events")
    out = (agg.withColumn("category_entropy", F.when(F.col("n_cat_events") > 0, F.greatest(entropy, F.lit(0.0))))
           .withColumn("duration_s", duration)
           .withColumn("velocity", F.col("n_events") * 60.0 / F.greatest(duration, F.lit(1.0)))
           .withColumn("start_hour", F.floor((F.col("t0") / 1000.0 % 86400) / 3600).cast("double"))
           .withColumn("cart_to_view", F.col("n_carts") / F.greatest(F.col("n_product_views"), F.lit(1)))
           .withColumn("revisit_ratio", F.when(F.col("n_product_events") > 0,
                                               1 - F.col("unique_products") / F.col("n_product_events")).otherwise(0.0))
           .withColumn("product_view_share", F.col("n_product_views") / F.col("n_events"))
           .withColumn("price_range_ratio", F.when(F.col("price_min") > 0, F.col("price_max") / F.col("price_min"))
                       .otherwise(0.0))
           .withColumn("browser_family", family.cast("double"))
           .withColumn("is_headless", F.col("userAgent").rlike(f"(?i){HEADLESS_PATTERN}").cast("double"))
           .withColumn("is_mobile", F.col("userAgent").rlike(f"(?i){MOBILE_PATTERN}").cast("double")))
    return out.select("sessionId", "experimentId", *[F.coalesce(F.col(c).cast("double"), F.lit(0.0)).alias(c)
                                                      for c in FEATURES])
