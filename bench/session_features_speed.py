"""Session features: Spark (the pipeline) vs the pandas reference vs the per-session loop it replaces.

``python bench/session_features_speed.py [--sizes 1000000 10000000 100000000] [--pandas-max 20000000]``.
Events come from
the synthetic generator (cached under $BENCH_CACHE). Spark runs in a warm local[*] JVM
(one warm-up run on a small file first) and writes its output, so the time covers the
whole job; the pandas reference is tests/session_features_pandas.py; the legacy loop
(filter the frame per session, then loop over its events in Python) lives only here and
is timed on small inputs because it grows quadratically, then extrapolated by a fitted
power law, which the JSON says. Per size also the peak RSS of the process tree during the Spark job
(the warm JVM and its Python workers) and, over the sizes, the growth exponent b of time ~ N^b. The pandas
reference holds every event in memory, so it runs only up to ``--pandas-max`` events.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from common import CACHE, PeakRss, write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jobs.pricing_models.session_features import session_features  # noqa: E402
from models.pricing.synth import ClickstreamSpec, generate  # noqa: E402
from tests.session_features_pandas import session_features_pandas  # noqa: E402

EVENTS_PER_SESSION = 26.0


def events_file(n_events: int) -> Path:
    """A cached Parquet file of about ``n_events`` synthetic events."""
    path = CACHE / f"clickstream_{n_events}.parquet"
    if not path.exists():
        spec = ClickstreamSpec(n_sessions=int(n_events / EVENTS_PER_SESSION), seed=1, chunk_sessions=40_000)
        writer = None
        for events, _, _ in generate(spec):
            table = pa.Table.from_pandas(events, preserve_index=False)
            writer = writer or pq.ParquetWriter(str(path) + ".tmp", table.schema, compression="zstd")
            writer.write_table(table, row_group_size=500_000)
        writer.close()
        Path(str(path) + ".tmp").rename(path)
    return path


def legacy_loop(events: pd.DataFrame) -> pd.DataFrame:
    """What the rule-based system did: for each session, filter the frame, then loop over events."""
    rows = []
    for sid in events["sessionId"].unique():
        ev = events[events["sessionId"] == sid].sort_values("timestamp")
        ts = ev["timestamp"].tolist()
        gaps = [(b - a) / 1000.0 for a, b in zip(ts, ts[1:])]
        carts = views = 0
        products: set[int] = set()
        for etype, pid in zip(ev["eventType"], ev["productId"]):
            carts += etype == "add_to_cart"
            views += etype == "product_view"
            if pid >= 0:
                products.add(pid)
        duration = (ts[-1] - ts[0]) / 1000.0
        rows.append({"sessionId": sid, "velocity": len(ts) * 60 / max(duration, 1.0),
                     "gap_mean": sum(gaps) / len(gaps) if gaps else 0.0, "cart_to_view": carts / max(views, 1),
                     "unique_products": len(products)})
    return pd.DataFrame(rows)


def time_spark(spark, path: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    session_features(spark.read.parquet(str(path))).write.mode("overwrite").parquet(str(out))
    return time.perf_counter() - t0


def main(sizes: list[int], pandas_max: int) -> None:
    from jobs.spark import get_spark

    spark = get_spark("bench.session_features")
    time_spark(spark, events_file(100_000), CACHE / "features_warmup")
    result: dict = {"spark_master": spark.sparkContext.master, "sizes": {}}
    for n in sizes:
        path = events_file(n)
        rows = pq.ParquetFile(path).metadata.num_rows
        with PeakRss() as mem:
            spark_s = time_spark(spark, path, CACHE / f"features_{n}")
        entry = {"events": rows, "spark_s": round(spark_s, 2), "spark_events_per_s": round(rows / spark_s),
                 "spark_peak_tree_rss_mb": round(mem.peak_mb)}
        result["sizes"][str(n)] = entry
        if rows > pandas_max:
            print(entry, flush=True)
            continue
        df = pd.read_parquet(path)
        t0 = time.perf_counter()
        session_features_pandas(df)
        pandas_s = time.perf_counter() - t0
        del df
        entry.update({"pandas_s": round(pandas_s, 2), "pandas_events_per_s": round(rows / pandas_s),
                      "spark_speedup_vs_pandas": round(pandas_s / spark_s, 2)})
        print(entry, flush=True)
    if len(sizes) > 1:
        n = [e["events"] for e in result["sizes"].values()]
        t = [e["spark_s"] for e in result["sizes"].values()]
        result["spark_growth_exponent"] = round(float(np.polyfit(np.log(n), np.log(t), 1)[0]), 2)
    # The legacy loop: time it on growing prefixes and fit t = c * n^k.
    df = pd.read_parquet(events_file(sizes[0]))
    sessions = df["sessionId"].unique()
    points = []
    for k in (1000, 4000, 8000):
        part = df[df["sessionId"].isin(sessions[:k])]
        t0 = time.perf_counter()
        legacy_loop(part)
        points.append((len(part), time.perf_counter() - t0))
    (n1, t1), (n2, t2) = points[-2], points[-1]  # the two largest: closest to the quadratic regime
    power = math.log(t2 / t1) / math.log(n2 / n1)
    result["legacy_loop"] = {"measured": [{"events": n, "seconds": round(t, 3)} for n, t in points],
                             "fitted_power": round(power, 2)}
    for entry in result["sizes"].values():
        est = t2 * (entry["events"] / n2) ** power
        entry["legacy_loop_s_extrapolated"] = round(est, 1)
        entry["spark_speedup_vs_legacy_loop"] = round(est / entry["spark_s"], 1)
    write_result("session_features_speed", result)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--pandas-max", type=int, default=20_000_000)
    args = ap.parse_args()
    main(args.sizes, args.pandas_max)
