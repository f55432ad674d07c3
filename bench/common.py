"""Shared pieces of the benchmarks: data preparation (cached) and JSON results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/adplatform-bench"))


def synthetic_csv(rows: int, seed: int = 42) -> tuple[Path, Path]:
    """A synthetic train.csv of ``rows`` rows and its ground truth, generated once."""
    from jobs.avazu_ctr.config import load
    from jobs.avazu_ctr.ingest import write_synthetic

    out = CACHE / f"synthetic_{rows}_{seed}"
    if not (out / "train.csv").exists():
        write_synthetic(load("demo", {"synthetic_rows": rows, "seed": seed}), out)
    return out / "train.csv", out / "ground_truth.parquet"


def sample_parquet(rows: int) -> Path:
    """The Parquet sample of :func:`synthetic_csv`, written once."""
    from jobs.avazu_ctr.sample import SampleSpec, sample_csv

    csv, _ = synthetic_csv(rows)
    dest = csv.parent / "sample.parquet"
    if not dest.exists():
        sample_csv(csv, dest, SampleSpec())
    return dest


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """``bench/results/<name>.json`` with the machine it ran on."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    print(json.dumps(payload, indent=2))
    return path
