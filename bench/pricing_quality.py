"""Quality of the pricing_models pipeline on the demo profile: classifier, multi-task, tree, pricing policies.

``python bench/pricing_quality.py`` runs the whole pipeline (40,000 synthetic sessions)
without Airflow in a temporary data root and MLflow store, then collects the figures.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import write_result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update({"PLATFORM_DATA_DIR": f"{tmp}/data", "PLATFORM_MLFLOW_DIR": f"{tmp}/mlflow"})
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        import mlflow

        from jobs.runner import run_pipeline

        t0 = time.perf_counter()
        state = run_pipeline("pricing_models", "demo", {}, run_id="bench")
        seconds = time.perf_counter() - t0
        client = mlflow.MlflowClient()
        exp = client.get_experiment_by_name("pricing_models")
        runs = {
            r.data.tags["airflow.task_id"]: r
            for r in client.search_runs([exp.experiment_id], "tags.`platform.role` = 'task'")
        }
        keep = ("holdout_", "oracle", "loko_auc", "xgboost", "tree_", "teacher_", "best_")
        metrics = {task: {k: round(v, 4) for k, v in r.data.metrics.items() if k.startswith(keep)}
                   for task, r in runs.items() if task in ("train_agent_classifier", "train_multitask", "distill")}
        table = pd.read_csv(Path(state["pricing_path"]) / "pricing_policies.csv").round(4)
        write_result("pricing_quality", {
            "profile": "demo", "sessions": sum(state["sessions"].values()), "pipeline_seconds": round(seconds, 1),
            "step_seconds": {t: round((r.info.end_time - r.info.start_time) / 1000, 1) for t, r in runs.items()},
            "metrics": metrics, "pricing_policies": table.to_dict(orient="records"),
            "rules": (Path(state["pricing_path"]) / "rules.txt").read_text().splitlines(),
        })


if __name__ == "__main__":
    main()
