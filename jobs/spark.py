"""The one Spark session factory: local mode by default, a cluster when SPARK_MASTER is set."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOG4J2 = Path(__file__).resolve().parent / "log4j2.properties"


def get_spark(app_name: str, shuffle_partitions: int | None = None) -> Any:
    """A SparkSession for ``app_name``, reused within the process.

    ``SPARK_MASTER`` selects the cluster (default ``local[*]``); ``SPARK_DRIVER_MEMORY``
    the driver heap (default 4g); ``SPARK_UI_ENABLED=1`` turns the web UI on (off by
    default: tests and DAG tasks do not need it and it costs start-up time).
    """
    from pyspark.sql import SparkSession

    master = os.environ.get("SPARK_MASTER", "local[*]")
    # Python workers must be this interpreter (the venv), not whatever python3 is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    local = master.startswith("local")
    parts = shuffle_partitions or (int(os.environ.get("SPARK_SHUFFLE_PARTITIONS", 0)) or (8 if local else 200))
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.shuffle.partitions", str(parts))
        .config("spark.ui.enabled", os.environ.get("SPARK_UI_ENABLED", "false"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.maxConcurrentOutputFileWriters", "4")  # partitioned writes without a sort
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG4J2.as_uri()}")
        .config("spark.sql.debug.maxToStringFields", "200")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its exit-time INFO lines hit closed streams
    log.info("spark: master=%s, shuffle partitions=%s, version %s", master, parts, spark.version)
    return spark
