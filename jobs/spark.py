"""The one Spark session factory: local mode by default, a cluster when SPARK_MASTER is set."""

from __future__ import annotations

import functools
import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOG4J2 = Path(__file__).resolve().parent / "log4j2.properties"


def get_spark(app_name: str, shuffle_partitions: int | None = None) -> Any:
    """A SparkSession for ``app_name``, reused within the process.

    ``SPARK_REMOTE`` (``sc://host:port``) runs the job on a long-lived Spark Connect server: no JVM starts
    in the task. Otherwise ``SPARK_MASTER`` selects the cluster (default ``local[*]``);
    ``SPARK_DRIVER_MEMORY`` the driver heap (default 4g), ``SPARK_EXECUTOR_MEMORY`` a cluster's executors'
    (Spark's default 1g), ``SPARK_DRIVER_MAX_RESULT_SIZE`` what
    a collect may bring back (default 0, no limit but the heap); ``SPARK_UI_ENABLED=1`` turns the web UI on (off
    by default: tests and DAG tasks do not need it and it costs start-up time).
    """
    from pyspark.sql import SparkSession

    remote = os.environ.get("SPARK_REMOTE")
    master = remote or os.environ.get("SPARK_MASTER", "local[*]")
    # Python workers must be this interpreter (the venv), not whatever python3 is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    local = master.startswith("local")
    parts = shuffle_partitions or int(os.environ.get("SPARK_SHUFFLE_PARTITIONS", 0)) or None
    if parts is None and not remote:  # a Connect server's sessions start with its own, sized for its cluster
        parts = 8 if local else 200
    session_conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.compression.codec": "zstd",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.maxConcurrentOutputFileWriters": "4",  # partitioned writes without a sort
        "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
        "spark.sql.debug.maxToStringFields": "200",
    }
    if parts is not None:
        session_conf["spark.sql.shuffle.partitions"] = str(parts)
    if remote:
        spark = SparkSession.builder.remote(remote).getOrCreate()
        for key, value in session_conf.items():  # session settings: each job on the server gets its own
            spark.conf.set(key, value)
        log.info("spark: connect server %s, shuffle partitions %s, version %s", remote,
                 spark.conf.get("spark.sql.shuffle.partitions"), spark.version)
        return spark
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
        # The avazu encodings collect their per-value counts to the driver by design (one row per id value
        # and fold: 1.03 GB at 40M rows, over the 1g default, which failed the step); the heap bounds it.
        .config("spark.driver.maxResultSize", os.environ.get("SPARK_DRIVER_MAX_RESULT_SIZE", "0"))
        # Spark takes only true/false; the docstring (and users) say 1.
        .config("spark.ui.enabled", str(os.environ.get("SPARK_UI_ENABLED", "") in ("1", "true", "yes")).lower())
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG4J2.as_uri()}")
    )
    if os.environ.get("SPARK_EXECUTOR_MEMORY") and not local:  # Spark's default is 1g per executor
        builder = builder.config("spark.executor.memory", os.environ["SPARK_EXECUTOR_MEMORY"])
    for key, value in session_conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its exit-time INFO lines hit closed streams
    log.info("spark: master=%s, shuffle partitions=%s, version %s", master, parts, spark.version)
    return spark


_SHARED: dict[str, Any] = {}


def _load_shared(path: str) -> Any:
    """The value pickled at ``path``, read once per Python worker process (and only the latest one kept: a
    worker reused by later jobs must not hold on to old tables)."""
    if path not in _SHARED:
        _SHARED.clear()
        with open(path, "rb") as f:
            _SHARED[path] = pickle.load(f)
    return _SHARED[path]


def share(spark: Any, value: Any, scratch: Path | None = None) -> Any:
    """A zero-argument getter of ``value`` inside Spark tasks.

    Classic session: a broadcast. Spark Connect has no SparkContext to broadcast with: with ``scratch`` (a
    folder the executors see, as they see the job's input and output) the value is pickled there once and each
    Python worker reads it from disk; without, it travels inside the function, i.e. inside every query plan
    and task (46 MB of encoding tables at 1M rows: 1.2 s of a 1M-row features task).
    """
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    if isinstance(spark, ConnectSession):
        if scratch is None:
            return lambda: value
        path = Path(scratch) / "shared.pkl"
        with open(path, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        return functools.partial(_load_shared, str(path))
    shared = spark.sparkContext.broadcast(value)
    return lambda: shared.value
