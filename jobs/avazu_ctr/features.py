"""features: PySpark job from the raw Parquet sample to model features, split and encodings.

Adds the split (stratified or time), fits the encodings of ``models.ctr.features`` on the
training split only (out of fold for training rows), and writes, atomically:

    <run>/features/data/split=train|holdout/*.parquet   features + id, click, day, fold
    <run>/features/encodings/<field>.parquet            fitted tables for serving (full training)
    <run>/features/manifest.json                        feature list, prior, row counts
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from jobs.avazu_ctr.config import AvazuConfig
from jobs.paths import RunContext, atomic_path, write_json
from models.ctr.features import CODED_FIELDS, ID_FIELDS, N_FOLDS, RAW_INPUTS, EncodingTables, feature_names, transform

log = logging.getLogger(__name__)


def _with_time_and_split(df: Any, cfg: AvazuConfig) -> tuple[Any, dict[int, int]]:
    """Add day, fold (for out-of-fold encodings) and split; also return rows per class.

    Stratified: within each class, rows whose id hash lies above the class's
    (1 - holdout_fraction) quantile form the holdout, so both splits keep the class ratio
    (to 1e-4 of the class size) from one aggregation, without a global sort.
    Time: the last day is the holdout.
    """
    from pyspark.sql import functions as F

    df = (df.withColumn("day", F.floor(F.col("hour") / 100).cast("int"))
          .withColumn("fold", F.pmod(F.xxhash64(F.col("id"), F.lit(f"fold{cfg.seed}")), F.lit(N_FOLDS)).cast("int")))
    u = F.xxhash64(F.col("id"), F.lit(f"split{cfg.seed}"))
    stats = df.groupBy("click").agg(
        F.count("*").alias("n"), F.max("day").alias("last_day"),
        F.percentile_approx(u, 1.0 - cfg.holdout_fraction, 10_000).alias("q"),
    ).collect()
    class_counts = {int(r["click"]): int(r["n"]) for r in stats}
    if cfg.split == "time":
        last = max(r["last_day"] for r in stats)
        return df.withColumn("split", F.when(F.col("day") == last, "holdout").otherwise("train")), class_counts
    threshold = F.lit(None).cast("long")
    for r in stats:
        threshold = F.when(F.col("click") == r["click"], F.lit(r["q"])).otherwise(threshold)
    return df.withColumn("split", F.when(u > threshold, "holdout").otherwise("train")), class_counts


def _counts(train: Any, fields: tuple[str, ...]) -> Any:
    """(field, value, fold, n, s): impressions and clicks per value and fold, in one pass."""
    from pyspark.sql import functions as F

    kv = F.explode(F.array(*[
        F.struct(F.lit(f).alias("field"), F.col(f).cast("string").alias("value")) for f in fields
    ])).alias("kv")
    long = train.select("fold", "click", kv).select("kv.field", "kv.value", "fold", "click")
    return long.groupBy("field", "value", "fold").agg(F.count("*").alias("n"), F.sum("click").alias("s"))


def _features_schema(use_id_encodings: bool) -> str:
    cols = ["id string", "click int", "day int", "fold int", "split string"]
    for name in feature_names(use_id_encodings):
        kind = "bigint" if name.startswith("cnt_") else "double" if name.startswith("te_") else "int"
        cols.append(f"{name} {kind}")
    return ", ".join(cols)


def build_features(spark: Any, sample_path: str, cfg: AvazuConfig,
                   scratch: Path | None = None) -> tuple[Any, EncodingTables, dict[str, Any]]:
    """Fit the encodings (Spark aggregations) and return the lazy features frame.

    ``scratch``: a folder the executors see, where a Spark Connect job leaves the fitted tables for its tasks
    (see :func:`jobs.spark.share`); it must outlive the frame's execution.
    Returns (features, fitted tables, summary with prior and rows/clicks per split).
    """
    from pyspark.sql import functions as F

    df, class_counts = _with_time_and_split(spark.read.parquet(sample_path), cfg)
    fields = CODED_FIELDS + (ID_FIELDS if cfg.use_id_encodings else ())
    import pyarrow.compute as pc

    # Arrow, not pandas: at 40M rows the counts are 30M rows of id values (1 GB), which as Python strings
    # took the driver to 12.8 GB.
    counts = _counts(df.filter(F.col("split") == "train"), fields).toArrow()
    tables = EncodingTables.fit(counts, cfg.encoding_smoothing)
    per_value = counts.filter(pc.equal(counts["field"], CODED_FIELDS[0]))
    n_train, clicks_train = int(pc.sum(per_value["n"]).as_py()), int(pc.sum(per_value["s"]).as_py())
    del counts, per_value
    n_all, clicks_all = sum(class_counts.values()), class_counts.get(1, 0)
    rows = {"train": n_train, "holdout": n_all - n_train}
    if min(rows.values()) == 0:
        raise ValueError(f"features: the {cfg.split} split left an empty side: {rows}")
    from jobs.spark import share

    shared = share(spark, tables, scratch)

    def apply(batches: Any) -> Any:
        import numpy as np

        for pdf in batches:
            fold = np.where(pdf["split"].to_numpy() == "train", pdf["fold"].to_numpy(), -1)
            feats = transform(pdf, shared(), fold)
            feats.insert(0, "split", pdf["split"].to_numpy())
            feats.insert(0, "fold", pdf["fold"].to_numpy(np.int32))
            feats.insert(0, "day", pdf["day"].to_numpy(np.int32))
            feats.insert(0, "click", pdf["click"].to_numpy(np.int32))
            feats.insert(0, "id", pdf["id"].to_numpy())
            yield feats

    raw_cols = sorted({"id", "click", "day", "split", "fold", *RAW_INPUTS})
    features = df.select(*raw_cols).mapInPandas(apply, _features_schema(cfg.use_id_encodings))
    summary = {"prior": tables.prior, "rows": rows,
               "clicks": {"train": clicks_train, "holdout": clicks_all - clicks_train}}
    return features, tables, summary


def write_features(spark: Any, sample_path: str, out_dir: Path, cfg: AvazuConfig) -> dict[str, Any]:
    """Compute and write features, encoding tables and manifest into ``out_dir`` atomically."""
    t0 = time.time()
    with atomic_path(out_dir, is_dir=True) as tmp:
        scratch = tmp / "_scratch"
        scratch.mkdir()
        features, tables, summary = build_features(spark, sample_path, cfg, scratch)
        log.info("features: split and encodings fitted in %.1f s; writing %s rows", time.time() - t0,
                 f"{sum(summary['rows'].values()):,}")
        features.write.mode("overwrite").partitionBy("split").parquet(str(tmp / "data"))
        log.info("features: data written after %.1f s", time.time() - t0)
        shutil.rmtree(scratch)
        write_tables(tables, tmp / "encodings")
        manifest = {
            **summary,
            "features": feature_names(cfg.use_id_encodings),
            "use_id_encodings": cfg.use_id_encodings,
            "encoding_smoothing": cfg.encoding_smoothing,
            "split": cfg.split,
            "seed": cfg.seed,
            "seconds": round(time.time() - t0, 3),
        }
        write_json(tmp / "manifest.json", manifest)
    log.info("features: %s rows in %.1f s -> %s", json.dumps(summary["rows"]), time.time() - t0, out_dir)
    return manifest


def write_tables(tables: EncodingTables, out_dir: Path) -> None:
    """The serving part of the fitted tables as ``<field>.parquet`` plus ``prior.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.serving_frames().items():
        frame.to_parquet(out_dir / f"{name}.parquet", index=False)
    (out_dir / "prior.json").write_text(json.dumps({"prior": tables.prior}))


def read_tables(enc_dir: Path) -> EncodingTables:
    """Inverse of :func:`write_tables`."""
    import pandas as pd

    prior = json.loads((enc_dir / "prior.json").read_text())["prior"]
    frames = {p.stem: pd.read_parquet(p) for p in enc_dir.glob("*.parquet")}
    return EncodingTables.from_serving_frames(frames, prior)


def run(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Spark features for ``state['sample_path']`` into ``<run>/features``."""
    from jobs.spark import get_spark

    spark = get_spark("avazu_ctr.features")
    out = ctx.run_dir / "features"
    manifest = write_features(spark, state["sample_path"], out, cfg)
    return {**state, "features_path": str(out), "feature_rows": manifest["rows"], "prior": manifest["prior"]}
