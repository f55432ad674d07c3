"""session_features: the 29 features per session in Spark, joined with the offer and the cohort label."""

from __future__ import annotations

import logging
from typing import Any

from jobs.paths import RunContext, atomic_path
from jobs.pricing_models.config import PricingConfig
from jobs.spark import get_spark
from models.pricing.synth import COHORT_AGENT, COHORT_HUMAN

log = logging.getLogger(__name__)


def run(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Spark: events -> session features; label from the cohort; a seeded hash split; one Parquet file."""
    import mlflow
    from pyspark.sql import functions as F

    from jobs.pricing_models.session_features import session_features

    spark = get_spark("pricing_models.features")
    events = spark.read.parquet(state["clean_events_path"])
    feats = session_features(events)
    offers = spark.read.parquet(state["offers_path"]).select(
        "sessionId", F.col("productId").alias("offer_product"), F.col("category").alias("offer_category"),
        F.col("rating").alias("offer_rating"), "list_price", "offer_price", "purchased")
    label = (F.when(F.col("experimentId") == COHORT_AGENT, 1).when(F.col("experimentId") == COHORT_HUMAN, 0))
    bucket = F.abs(F.xxhash64(F.col("sessionId"), F.lit(cfg.seed))) % 10_000
    df = (feats.join(offers, "sessionId", "inner")
          .withColumn("label", label.cast("int"))
          .where(F.col("label").isNotNull())  # sessions of other cohorts carry no label
          .withColumn("split", F.when(bucket < cfg.holdout_fraction * 10_000, "holdout").otherwise("train"))
          .drop("experimentId")).toPandas()
    df.attrs.clear()  # Spark Connect attaches its plan metrics here, which Parquet's metadata cannot hold
    df = df.sort_values("sessionId", ignore_index=True)
    out = ctx.run_dir / "features" / "sessions.parquet"
    with atomic_path(out) as tmp:
        df.to_parquet(tmp, index=False)
    mlflow.log_metrics({"sessions": len(df), "holdout_sessions": int((df["split"] == "holdout").sum())})
    log.info("features: %d sessions (%d holdout)", len(df), int((df["split"] == "holdout").sum()))
    return {**state, "features_path": str(out)}
