"""session_features: the 29 features per session in Spark, joined with the offer and the cohort label."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.paths import RunContext, atomic_path
from jobs.pricing_models.config import PricingConfig
from jobs.pricing_models.sessions import ROW_GROUP_ROWS
from jobs.spark import get_spark
from models.common.errors import BadInputError
from models.pricing.synth import COHORT_AGENT, COHORT_HUMAN

log = logging.getLogger(__name__)


def run(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Spark: events -> session features; label from the cohort; a seeded hash split; one Parquet file sorted
    by sessionId."""
    import mlflow
    from pyspark import StorageLevel
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
          .drop("experimentId"))
    out = ctx.run_dir / "features" / "sessions.parquet"
    with atomic_path(out) as tmp, tempfile.TemporaryDirectory(dir=out.parent, prefix=".spark-") as parts:
        # Spark sorts and writes in parallel (range-partitioned part files, in sessionId order part after part);
        # the parts become one file of even row groups, the unit the training steps stream and shuffle.
        # The sort's range bounds come from a sampling pass over its input: over the plan itself that computed
        # every session's features twice (two of the step's three minutes at 29M events); over a checkpoint of
        # the session rows (on disk, a row per session) the features are computed once.
        sessions = df.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)
        sessions.orderBy("sessionId").write.mode("overwrite").parquet(parts)
        rows = concat_parts(Path(parts), tmp, ROW_GROUP_ROWS)
        if not rows:  # raised inside: the empty file is dropped, an earlier table stays
            raise BadInputError(f"no labelled sessions in {state['clean_events_path']} with offers in "
                                f"{state['offers_path']}: nothing to train on")
    split = pq.read_table(out, columns=["split"]).column("split")
    n_hold = int(pc.sum(pc.equal(split, "holdout")).as_py() or 0)
    mlflow.log_metrics({"sessions": rows, "holdout_sessions": n_hold})
    log.info("features: %d sessions (%d holdout)", rows, n_hold)
    return {**state, "features_path": str(out)}


def concat_parts(folder: Path, dest: Path, group_rows: int) -> int:
    """The Parquet part files of ``folder``, in name order, as one file ``dest`` of ``group_rows``-row groups;
    one group in memory at a time. Returns the number of rows."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    data = ds.dataset(folder, format="parquet")  # part files in name order; _SUCCESS and .crc left out
    writer, pending, rows = pq.ParquetWriter(dest, data.schema, compression="zstd"), [], 0
    try:
        for batch in data.to_batches(batch_size=group_rows):
            pending.append(batch)
            while sum(b.num_rows for b in pending) >= group_rows:
                table = pa.Table.from_batches(pending).combine_chunks()
                writer.write_table(table.slice(0, group_rows), row_group_size=group_rows)
                pending = table.slice(group_rows).to_batches()
            rows += batch.num_rows
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema=data.schema), row_group_size=group_rows)
    finally:
        writer.close()
    return rows
