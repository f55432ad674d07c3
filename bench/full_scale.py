"""Cost curves of the avazu_ctr steps from 1M to the full 40.4M rows, each step in a fresh process.

``python bench/full_scale.py [--sizes 1000000,4000000,10000000,40428967] [--train-max 10000000]``
(needs ``make full-data``). For each size N the CSV is the first N rows of the full fixture;
the steps run as the pipeline runs them, on the ``full`` profile's settings: the sample
(full conversion to ZSTD Parquet), Great Expectations on the Spark engine, the Spark
features, and LightGBM (out of core above the profile's ``train_in_memory_rows``; up to
``--train-max`` rows). Also the seeded random 10M-of-40M sample, and (``--steps whole_run``) the
whole ``full`` profile end to end as a user runs it (synthetic source: ingest generates the
40.4M rows, then the 10M random sample, Spark validation, features, LightGBM, promotion).
Per step: wall seconds and the peak RSS of the whole process tree (the Spark JVM included,
polled every 0.25 s), then the fitted growth exponent b of time ~ N^b. Writes
bench/results/full_scale.json after every step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from common import CACHE, exponents, measure_script, write_result
from full_data import KAGGLE_ROWS, full_data

ROOT = Path(__file__).resolve().parent.parent
STEP = r"""
import json, sys, time
sys.path.insert(0, %(root)r)
import logging; logging.basicConfig(level=logging.INFO, format="%%(asctime)s %%(message)s")
from jobs.avazu_ctr.config import load
cfg = load("full")
step, src, dest = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
out, elapsed = {}, None
if step in ("sample", "random_sample"):
    from jobs.avazu_ctr.sample import SampleSpec, sample_csv
    spec = SampleSpec() if step == "sample" else SampleSpec(rows=int(sys.argv[4]), mode="random", seed=cfg.seed)
    out = {"rows": sample_csv(src, dest, spec)["rows"]}
elif step == "validate_spark":
    from jobs.spark import get_spark
    from jobs.validation import validate_frame
    r = validate_frame(get_spark("bench.validate").read.parquet(src), "avazu_raw", "bench", project_dir=dest)
    out = {"evaluated": r.evaluated, "success": r.success}
elif step == "features":
    import os, urllib.request
    from datetime import datetime
    from pathlib import Path
    from jobs.avazu_ctr.features import write_features
    from jobs.spark import get_spark
    os.environ["SPARK_UI_ENABLED"] = "1"  # its REST API has every stage's task times (the cluster estimate)
    spark = get_spark("bench.features")
    out = {"rows": write_features(spark, src, Path(dest), cfg)["rows"]}
    elapsed = time.perf_counter() - t0
    api = f"{spark.sparkContext.uiWebUrl}/api/v1/applications/{spark.sparkContext.applicationId}"
    get = lambda url: json.load(urllib.request.urlopen(api + url))
    when = lambda x: datetime.strptime(x.replace("GMT", ""), "%%Y-%%m-%%dT%%H:%%M:%%S.%%f").timestamp()
    out["stages"] = []
    for st in sorted(get("/stages?status=complete"), key=lambda st: st["stageId"]):
        q = get(f"/stages/{st['stageId']}/{st['attemptId']}/taskSummary?quantiles=0.5,1.0")["executorRunTime"]
        out["stages"].append({"stage": st["stageId"], "name": st["name"][:80], "tasks": st["numTasks"],
                              "wall_s": round(when(st["completionTime"]) - when(st["submissionTime"]), 2),
                              "task_s": round(st["executorRunTime"] / 1e3, 2), "p50_task_s": round(q[0] / 1e3, 2),
                              "max_task_s": round(q[1] / 1e3, 2)})
elif step == "train":
    import pandas as pd
    from pathlib import Path
    from jobs.avazu_ctr.train import fit
    from models.ctr.model import binary_metrics
    import pyarrow as pa
    import pyarrow.parquet as pq
    manifest = json.loads((Path(src) / "manifest.json").read_text())
    result, metrics, preds = fit(src, cfg, manifest["features"])
    elapsed = time.perf_counter() - t0  # the oracle below is the bench's, not the step's
    # The fixture's truth is in file order: the first N rows belong to the N-row prefix (no 40M-row join).
    n, got, parts = sum(manifest["rows"].values()), 0, []
    for b in pq.ParquetFile(dest).iter_batches(batch_size=1 << 20, columns=["id", "p_click"]):
        parts.append(b)
        got += b.num_rows
        if got >= n:
            break
    truth = pa.Table.from_batches(parts).slice(0, n).to_pandas().set_index("id")["p_click"]
    oracle = binary_metrics(preds["click"].to_numpy(), truth.loc[preds["id"]].to_numpy())
    out = {"holdout_auc": metrics["auc"], "oracle_auc": oracle["auc"], "best_iteration": result.best_iteration,
           "train_rows": manifest["rows"]["train"]}
elif step == "whole_run":
    import os, tempfile
    root = tempfile.mkdtemp(prefix="full_run_")
    os.environ.update({"PLATFORM_DATA_DIR": root + "/data", "PLATFORM_MLFLOW_DIR": root + "/mlflow",
                       "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    import mlflow
    from jobs.runner import run_pipeline
    # As a user without Kaggle credentials runs it: ingest generates the 40.4M rows (and their truth) first.
    state = run_pipeline("avazu_ctr", "full", {"source": "synthetic"}, run_id="full")
    runs = mlflow.search_runs(experiment_names=["avazu_ctr"])
    steps = {r["tags.mlflow.runName"]: round((r["end_time"] - r["start_time"]).total_seconds(), 1)
             for _, r in runs.iterrows() if r["tags.mlflow.runName"] != "full"}
    out = {"holdout_auc": state["holdout_auc"], "oracle_auc": state.get("oracle_auc"), "alias": state["alias"],
           "sample_rows": state["sample_rows"], "step_seconds": steps,
           "validation_engines": [state["validate_raw"]["engine"]] + [v["engine"] for v in state["validate_features"]]}
print("RESULT " + json.dumps({"seconds": elapsed if elapsed is not None else time.perf_counter() - t0, **out}))
"""


def measure(step: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """One step of STEP in a fresh process: its wall time (from inside) and the tree's peak RSS."""
    return measure_script(STEP % {"root": str(ROOT)}, step, *args, env=env)


def prefix(full_csv: Path, rows: int) -> Path:
    """The first ``rows`` rows of the fixture as a CSV of their own (made once)."""
    if rows >= KAGGLE_ROWS:
        return full_csv
    out = CACHE / f"prefix_{rows}" / "train.csv"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            subprocess.run(["head", "-n", str(rows + 1), str(full_csv)], stdout=f, check=True)
        tmp.rename(out)
    return out


def cluster_estimate(features: dict[str, dict], workers: int, cores: int) -> dict:
    """The features step at its largest size with stage metrics, re-timed for ``workers`` x ``cores`` task slots
    from the measured task times: each stage takes max(its longest task, its task time / the slots it can fill);
    what no stage covers (the driver collecting the counts, fitting the tables, broadcasting them) stays
    serial. ``input_split_to_slots_s`` has the input cut into at least as many partitions as slots (what Spark's
    file splitting does on a bigger cluster: input bytes / default parallelism, down to the row groups),
    ``as_partitioned_s`` keeps the splits measured here; and the model re-timed for the 2 slots it ran on, against
    the measured time, as a check of the model."""
    sized = {k: v for k, v in features.items() if v.get("stages")}
    if not sized:
        return {}
    key = max(sized, key=int)
    run, stages = sized[key], sized[key]["stages"]
    serial = max(0.0, run["seconds"] - sum(st["wall_s"] for st in stages))

    def as_partitioned(slots: int) -> float:
        return serial + sum(max(st["max_task_s"], st["task_s"] / min(slots, st["tasks"])) for st in stages)

    slots = workers * cores
    return {"rows": int(key), "measured_s": run["seconds"], "serial_driver_s": round(serial, 1),
            "model_at_2_slots_s": round(as_partitioned(2), 1), "cluster": f"{workers} workers x {cores} cores",
            "as_partitioned_s": round(as_partitioned(slots), 1),
            "input_split_to_slots_s": round(serial + sum(st["task_s"] / slots for st in stages), 1),
            "stage_tasks": [st["tasks"] for st in stages],
            "largest_process_mb": run.get("peak_largest_process_mb")}


def features_on_the_stack_cluster(sizes: list[int], steps: dict[str, dict[str, dict]], save: Any) -> None:
    """The features step with ``SPARK_MASTER`` on the stack's Spark standalone cluster (a master and two
    workers, started here as ``make stack`` starts them, one core and 2 GB each: the same 2 task slots as
    local[*] on this machine), as ``features_cluster``."""
    import os

    from stack.settings import load
    from stack.subset import free_port, running

    os.environ.update({"SPARK_WORKER_CORES": "1", "SPARK_MASTER_PORT": str(free_port()),
                       "SPARK_MASTER_WEBUI_PORT": str(free_port()), "SPARK_WORKER_WEBUI_PORT": str(free_port())})
    with running(("spark-master", "spark-worker-1", "spark-worker-2")):
        s = load()
        master = f"spark://{s['STACK_HOST']}:{s['SPARK_MASTER_PORT']}"
        for rows in sizes:
            work = CACHE / f"scale_{rows}"
            r = measure("features", str(work / "sample.parquet"), str(work / "features_cluster"),
                        env={"SPARK_MASTER": master, "SPARK_EXECUTOR_MEMORY": s["SPARK_WORKER_MEMORY"]})
            steps.setdefault("features_cluster", {})[str(rows)] = {**r, "master": master}
            save()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=f"1000000,4000000,10000000,{KAGGLE_ROWS}")
    ap.add_argument("--train-max", type=int, default=10_000_000)
    ap.add_argument("--steps", default="sample,validate_spark,features,train,random_sample")
    ap.add_argument("--cluster", default="10x4", help="workers x cores for the features estimate")
    args = ap.parse_args()
    wanted = args.steps.split(",")
    fixture = full_data()
    full_csv = fixture / "train.csv"
    path = Path(__file__).resolve().parent / "results" / "full_scale.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    steps: dict[str, dict[str, dict]] = previous.get("steps", {})
    extra: dict[str, dict] = previous.get("random_sample", {})
    whole: dict[str, dict] = previous.get("whole_full_run", {})

    def save() -> None:
        write_result("full_scale", {"csv_gb_per_million_rows": round(full_csv.stat().st_size / KAGGLE_ROWS / 1e3, 3),
                                    "steps": steps, "growth_exponent": exponents(steps), "random_sample": extra,
                                    "whole_full_run": whole,
                                    "features_on_a_cluster": cluster_estimate(steps.get("features", {}),
                                                                              *map(int, args.cluster.split("x"))),
                                    "targets": {"sample": ">= 100 MB/s of CSV, peak RSS flat (< 1 GB)",
                                                "random_sample": "10M of 40M in < 90 s",
                                                "whole_full_run": "< 30 min, peak RSS < 12 GB"}})

    for rows in [int(x) for x in args.sizes.split(",")]:
        work = CACHE / f"scale_{rows}"
        work.mkdir(parents=True, exist_ok=True)
        csv = prefix(full_csv, rows)
        sample = work / "sample.parquet"
        key = str(rows)
        if "sample" in wanted or not sample.exists():
            r = measure("sample", str(csv), str(sample))
            r["mb_per_s"] = round(csv.stat().st_size / 1e6 / r["seconds"], 1)
            steps.setdefault("sample", {})[key] = r
            save()
        if "validate_spark" in wanted:
            steps.setdefault("validate_spark", {})[key] = measure("validate_spark", str(sample), str(work / "gx"))
            save()
        if "features" in wanted or ("train" in wanted and not (work / "features").exists()):
            steps.setdefault("features", {})[key] = measure("features", str(sample), str(work / "features"))
            save()
        if "train" in wanted and rows <= args.train_max:
            steps.setdefault("train", {})[key] = measure("train", str(work / "features"),
                                                         str(fixture / "ground_truth.parquet"))
            save()
    if "features_cluster" in wanted:
        features_on_the_stack_cluster([int(x) for x in args.sizes.split(",")], steps, save)
    if "whole_run" in wanted:
        whole.update(measure("whole_run", "-", "-"))
        save()
    if "random_sample" in wanted:
        r = measure("random_sample", str(full_csv), str(CACHE / "random_10M.parquet"), "10000000")
        extra.update({"rows_in": KAGGLE_ROWS, **r})
        save()


if __name__ == "__main__":
    main()
