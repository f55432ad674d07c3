"""Spark features on 1M rows: session start-up, first run (cold JVM) and a second run, separately.

``python bench/features_speed.py`` (local[*] on this machine; SPARK_MASTER for a cluster).
"""

from __future__ import annotations

import time

from common import CACHE, sample_parquet, write_result

from jobs.avazu_ctr.config import load
from jobs.avazu_ctr.features import write_features


def main() -> None:
    sample = sample_parquet(1_000_000)
    t0 = time.perf_counter()
    from jobs.spark import get_spark

    spark = get_spark("bench.features")
    startup = time.perf_counter() - t0
    runs = {}
    for label, enc in (("with_id_encodings", True), ("without_id_encodings", False)):
        times = []
        for _ in range(2):
            out = CACHE / f"features_1M_{'enc' if enc else 'noenc'}"
            t = time.perf_counter()
            manifest = write_features(spark, str(sample), out, load("demo", {"use_id_encodings": enc}))
            times.append(round(time.perf_counter() - t, 2))
        runs[label] = {"first_run_s": times[0], "second_run_s": times[1], "rows": manifest["rows"]}
    spark.stop()
    write_result("features_speed", {
        "target": "1M rows in < 15 s, session start-up excluded",
        "session_startup_s": round(startup, 2),
        "note": "first run includes JVM warm-up (code generation, class loading) paid once per task process",
        **runs,
    })


if __name__ == "__main__":
    main()
