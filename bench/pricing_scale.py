"""Cost curves of the pricing_models steps from 250k to millions of sessions, each step in a fresh process.

``python bench/pricing_scale.py [--sizes 250000 1000000 4000000] [--set KEY=VALUE ...]``

Each step runs as an Airflow task runs it: its own process, the state of the steps before it passed in
(here as JSON), on the ``full`` profile with ``n_sessions`` = N (synthetic source: ingest generates ~26 events
per session, so 4M sessions are ~100M events). The steps stream what does not fit: the event repairs and
Great Expectations go to Spark above the profile's ``validation_spark_rows``, the session table is written by
Spark and read a row group at a time, XGBoost trains from external memory, the multi-task net from a
DataLoader over row groups. Per step: wall seconds and the peak RSS of the whole process tree (the Spark JVM
included, polled every 0.25 s); then the fitted growth exponent b of time ~ N^b, and the run's figures (AUCs,
revenue). Writes bench/results/pricing_scale.json after every step.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from common import CACHE, exponents, measure_script, write_result

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "pricing_scale.json"
STEPS = ("ingest_events", "validate_events", "session_features", "validate_features", "train_agent_classifier",
         "train_multitask", "distill", "evaluate_and_promote")
FIGURES = ("classifier_auc", "classifier_precision", "multitask_agent_auc", "purchase_auc", "tree_fidelity",
           "tree_revenue", "repairs", "sessions")
STEP = r"""
import json, os, sys, time
sys.path.insert(0, %(root)r)
import logging; logging.basicConfig(level=logging.INFO, format="%%(asctime)s %%(name)s %%(message)s")
from jobs.paths import RunContext
from jobs.runner import run_step
step, state_path, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
state = json.loads(open(state_path).read()) if os.path.exists(state_path) else {}
t0 = time.perf_counter()
out = run_step("pricing_models", step, "full", overrides, RunContext.cli("pricing_models", "scale"), state)
elapsed = time.perf_counter() - t0
with open(state_path, "w") as f:
    json.dump(out, f, default=str)
print("RESULT " + json.dumps({"seconds": elapsed}))
"""


def parse_set(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, value = item.split("=", 1)
        out[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000, 4_000_000])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting of every run")
    args = ap.parse_args()
    extra = parse_set(args.set)
    # Sizes measured before and not re-run now stay in the results.
    old = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    keep = lambda d: {k: v for k, v in d.items() if int(k) not in args.sizes}  # noqa: E731
    steps: dict[str, dict[str, dict]] = {step: keep(v) for step, v in old.get("steps", {}).items()}
    runs: dict[str, dict] = keep(old.get("runs", {}))
    for n in args.sizes:
        root = CACHE / f"pricing_{n}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        env = {"PLATFORM_DATA_DIR": str(root / "data"), "PLATFORM_MLFLOW_DIR": str(root / "mlflow"),
               "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
        state_path = root / "state.json"
        overrides = {"n_sessions": n, **extra}
        for step in STEPS:
            r = measure_script(STEP % {"root": str(ROOT)}, step, str(state_path), json.dumps(overrides), env=env)
            steps.setdefault(step, {})[str(n)] = r
            print(f"{n:>10,} sessions {step:<24} {r['seconds']:8.1f} s  peak {r['peak_tree_rss_mb']:,} MB",
                  flush=True)
            state = json.loads(state_path.read_text())
            done = [s[str(n)] for s in steps.values() if str(n) in s]
            runs[str(n)] = {**runs.get(str(n), {}), "overrides": overrides,
                            "total_s": round(sum(d["seconds"] for d in done), 1),
                            "peak_tree_rss_mb": max(d["peak_tree_rss_mb"] for d in done),
                            **{k: state.get(k) for k in FIGURES}}
            if step == "ingest_events":
                import pyarrow.parquet as pq

                runs[str(n)]["events"] = pq.ParquetFile(state["events_path"]).metadata.num_rows
            sizes = sorted({int(k) for k in runs})
            write_result("pricing_scale", {"command": "python bench/pricing_scale.py --sizes "
                                           + " ".join(map(str, sizes)) + "".join(f" --set {s}" for s in args.set),
                                           "profile": "full", "steps": steps, "runs": runs,
                                           "growth_exponent": exponents(steps)})
        shutil.rmtree(root / "data" / "pricing_models" / "runs" / "scale" / "events", ignore_errors=True)


if __name__ == "__main__":
    main()
