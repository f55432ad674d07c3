"""Prometheus metrics of the service (``/metrics``). With several uvicorn workers each writes its samples to
``$PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` sums them, so any worker answers for all."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY = Histogram("serving_request_seconds", "Request latency per endpoint", ["endpoint"],
                    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
MODEL_VERSION = Gauge("serving_model_version", "Registered version being served, per model", ["model"],
                      multiprocess_mode="max")
SWAPS = Counter("serving_model_swaps_total", "Champions swapped in without a restart", ["model"])
LOAD_FAILURES = Counter("serving_model_load_failures_total", "Versions that failed to load (previous kept)",
                        ["model"])
DEGRADED = Counter("serving_degraded_total", "Requests answered in a degraded mode", ["mode"])
BUFFERED = Counter("serving_buffered_rows_total", "Log rows written to the disk buffer (Postgres down)", ["table"])
REPLAYED = Counter("serving_replayed_rows_total", "Buffered log rows replayed into Postgres")
EVENTS = Counter("serving_events_total", "Events per outcome", ["outcome"])


def render() -> bytes:
    """The exposition text: every worker's samples when running multi-process, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)
