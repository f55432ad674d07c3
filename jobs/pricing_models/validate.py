"""validate_events / validate_features: counted repairs, then the Great Expectations gates.

Repairs (documented, counted, logged as metrics and ``repairs.json``): exact duplicate
events, as an at-least-once Kafka export produces, are dropped; events out of time order
within a session are sorted. Everything else that is wrong stops the run before any
feature is written: unknown event types, negative prices, missing session ids or times,
two different events with the same (session, time, type, product), offers for sessions
without events.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.paths import RunContext, atomic_path, data_root, defer_link, write_json
from jobs.pricing_models.config import PricingConfig
from jobs.validation import engine, load_for_validation, parquet_rows, validate_and_log
from models.common.errors import BadInputError

log = logging.getLogger(__name__)


def repair_events(events: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop exact duplicates and sort each session by time; returns the counts of both repairs."""
    before = len(events)
    events = events.drop_duplicates(ignore_index=True)
    in_file_order = events.sort_values("sessionId", kind="stable")  # each session's events as they arrived
    same = in_file_order["sessionId"].eq(in_file_order["sessionId"].shift())
    backwards = same & (in_file_order["timestamp"] < in_file_order["timestamp"].shift())
    reordered = int(in_file_order.loc[backwards, "sessionId"].nunique())
    events = events.sort_values(["sessionId", "timestamp"], kind="stable", ignore_index=True)
    return events, {"duplicate_events_dropped": before - len(events), "sessions_reordered": reordered}


def repair_events_spark(events: Any, out: Path) -> dict[str, int]:
    """:func:`repair_events` as one Spark job that writes the repaired events to the Parquet folder ``out``; the
    same counts, the same rows.

    The first of identical events is kept (by file position), a session counts as reordered when its events
    go back in time in file order. One shuffle: the events are hash-partitioned by sessionId, which also
    serves the de-duplication (its keys include sessionId) and the per-session windows; the counts are
    observed while the rows are written (no second pass, nothing cached: a checkpoint of the repaired rows
    cost as much disk as the shuffle and a third of the time). Each session's events are written by time,
    ties in file order; no global sort, the session features do not need one."""
    from pyspark.sql import Observation, Window
    from pyspark.sql import functions as F

    cols, before = events.columns, events.count()
    # At most ~1M events a partition: the per-partition sorts must fit the heap whatever the size.
    parts = max(int(events.sparkSession.conf.get("spark.sql.shuffle.partitions")), -(-before // 1_000_000))
    first = (events.withColumn("_row", F.monotonically_increasing_id())
             .repartition(parts, "sessionId")
             .groupBy(*cols).agg(F.min("_row").alias("_row")))
    in_file_order = Window.partitionBy("sessionId").orderBy("_row")
    flagged = (first
               .withColumn("_back", F.coalesce((F.col("timestamp") < F.lag("timestamp").over(in_file_order))
                                               .cast("int"), F.lit(0)))
               .withColumn("_first", F.row_number().over(in_file_order) == 1)
               .withColumn("_session_back", F.max("_back").over(Window.partitionBy("sessionId"))))
    counts = Observation("repairs")
    (flagged.observe(counts, F.count(F.lit(1)).alias("after"),
                     F.sum(F.when(F.col("_first"), F.col("_session_back")).otherwise(0)).alias("reordered"))
     .sortWithinPartitions("sessionId", "timestamp", "_row")
     .select(*cols)
     .write.mode("overwrite").parquet(str(out)))
    seen = counts.get
    return {"duplicate_events_dropped": before - int(seen["after"]), "sessions_reordered": int(seen["reordered"])}


def run_events(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Repair, validate (suites clickstream_events and price_offers) and write the clean events; on Spark (GX's
    Spark engine) when the events outgrow ``validation_spark_rows`` (``validation_engine: auto``)."""
    import mlflow

    vdir = ctx.run_dir / "validation"
    out = ctx.run_dir / "events_clean" / "events.parquet"
    events = load_for_validation(state["events_path"], cfg.validation_engine, cfg.validation_spark_rows,
                                 "pricing_models.validate")
    on_spark = engine(events) == "spark"
    offers = load_for_validation(state["offers_path"], "spark" if on_spark else "pandas", 0,
                                 "pricing_models.validate")
    # Written first, to a temporary folder that is only moved into place once every check has passed: on
    # Spark the suites then read the written columns (each expectation only its own) instead of the repairs.
    with atomic_path(out, is_dir=on_spark) as tmp:
        if on_spark:
            repairs = repair_events_spark(events, tmp)
            events = events.sparkSession.read.parquet(str(tmp))
        else:
            events, repairs = repair_events(events)
            events.to_parquet(tmp, index=False, row_group_size=256_000)
        reports = [validate_and_log(events, "clickstream_events", f"events {state['events_path']}", vdir),
                   validate_and_log(offers, "price_offers", f"offers {state['offers_path']}", vdir)]
        orphans = orphan_offers(events, offers)
        if orphans[0]:
            raise BadInputError(f"{orphans[0]} offers in {state['offers_path']} belong to sessions without events, "
                                f"e.g. {orphans[1]}")
    mlflow.log_metrics({k: float(v) for k, v in repairs.items()})
    write_json(ctx.run_dir / "events_clean" / "repairs.json", repairs)
    log.info("events: %d rows after repairs %s", parquet_rows(out), repairs)
    return {**state, "clean_events_path": str(out), "repairs": repairs, "validate_events": reports}


def orphan_offers(events: Any, offers: Any) -> tuple[int, list[str]]:
    """How many offers name a session without events, and up to three of those sessions."""
    if engine(events) == "spark":
        bad = offers.join(events.select("sessionId").distinct(), "sessionId", "left_anti")
        return bad.count(), [r.sessionId for r in bad.select("sessionId").limit(3).collect()]
    bad = offers.loc[~offers["sessionId"].isin(events["sessionId"].unique()), "sessionId"]
    return len(bad), bad.head(3).tolist()


def current_features_link() -> Path:
    """The published (validated) session features of the latest successful run."""
    return data_root() / "pricing_models" / "features" / "current"


def run_features(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Suite session_features (on Spark past ``validation_spark_rows`` sessions); ``features/current`` moves to
    them once the whole run has succeeded."""
    import pyarrow.parquet as pq

    df = load_for_validation(state["features_path"], cfg.validation_engine, cfg.validation_spark_rows,
                             "pricing_models.validate")
    report = validate_and_log(df, "session_features", f"features {state['features_path']}", ctx.run_dir / "validation")
    table = pq.read_table(state["features_path"], columns=["split", "label"])
    counts = table.group_by("split").aggregate([("label", "count"), ("label", "mean")]).to_pandas().set_index("split")
    log.info("features: %s", counts.to_dict())
    state = defer_link(state, Path(state["features_path"]).parent, current_features_link())
    label = table.column("label").to_numpy()
    return {**state, "validate_features": report,
            "sessions": {str(k): int(v) for k, v in counts["label_count"].items()},
            "agent_share": float(np.round(label.mean(), 4))}
