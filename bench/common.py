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


def tree_rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory of ``pid`` and all its descendants, and of the largest of them (MB)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(proc.name))
            rss[int(proc.name)] = int(fields[21]) * 4096
        except (OSError, IndexError, ValueError):
            continue
    total, largest, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        largest = max(largest, rss.get(p, 0))
        todo += children.get(p, [])
    return total / 1e6, largest / 1e6


class PeakRss:
    """Polls the resident memory of process ``pid`` (default this one) and its descendants (a Spark JVM, its
    Python workers) every 0.25 s while the block runs: ``peak_mb`` and ``largest_mb`` (the largest single
    process) after it."""

    def __init__(self, pid: int | None = None) -> None:
        import threading

        self.pid = pid or os.getpid()
        self.peak_mb = self.largest_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            total, one = tree_rss_mb(self.pid)
            self.peak_mb, self.largest_mb = max(self.peak_mb, total), max(self.largest_mb, one)
            self._stop.wait(0.25)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure_script(script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``python -c script *args`` in a fresh process (``env`` added to its environment). The script prints
    one line ``RESULT {json}`` with at least ``seconds`` (timed from inside); returned with the wall time from
    outside and the process tree's peak RSS (a Spark JVM and its Python workers included)."""
    import subprocess
    import sys
    import threading

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1, env={**os.environ, **(env or {})})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    with PeakRss(proc.pid) as mem:
        proc.wait()
    reader.join()
    result = [json.loads(x[7:]) for x in lines if x.startswith("RESULT ")]
    if proc.returncode or not result:
        raise RuntimeError(f"{args} failed:\n" + "".join(lines[-40:]))
    return {**result[0], "seconds": round(result[0]["seconds"], 2), "wall_s": round(time.perf_counter() - t0, 2),
            "peak_tree_rss_mb": round(mem.peak_mb), "peak_largest_process_mb": round(mem.largest_mb)}


def exponents(steps: dict[str, dict[str, dict]]) -> dict[str, float]:
    """b in time ~ N^b per step, least squares on log-log over the measured sizes."""
    import numpy as np

    out = {}
    for step, by_size in steps.items():
        if len(by_size) >= 2:
            n = np.array([float(k) for k in by_size])
            t = np.array([v["seconds"] for v in by_size.values()])
            out[step] = round(float(np.polyfit(np.log(n), np.log(t), 1)[0]), 2)
    return out


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


def interleaved_iterations(algos: dict[str, Any], iterations: int,
                           label: str) -> tuple[dict[str, list[float]], dict[str, dict[str, Any]]]:
    """``iterations`` rounds of one ``train()`` of each RLlib Algorithm in ``algos`` in turn (this VM's speed
    drifts up to 2x within minutes: alternating makes the drift hit all alike); seconds per iteration by name, and
    each one's last result. Prints a line per round."""
    seconds: dict[str, list[float]] = {name: [] for name in algos}
    last: dict[str, dict[str, Any]] = {}
    for i in range(iterations):
        for name, algo in algos.items():
            t0 = time.perf_counter()
            last[name] = algo.train()
            seconds[name].append(time.perf_counter() - t0)
        print(f"{label} iteration {i + 1}/{iterations}: " + ", ".join(f"{n} {s[-1]:.3f} s" for n, s in seconds.items()),
              flush=True)
    return seconds, last


def rllib_timers(result: dict[str, Any]) -> dict[str, float]:
    """RLlib's sampling and learning timers of a train() result (running means, seconds)."""
    return {k: round(float(v), 3) for k, v in result.get("timers", {}).items()
            if k in ("env_runner_sampling_timer", "learner_update_timer", "replay_buffer_sampling_timer")}
