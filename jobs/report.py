"""Print what the latest avazu_ctr run produced: MLflow run, model version, alias, AUC vs oracle.

``python -m jobs.report`` (run by ``make demo`` after the DAG).
"""

from __future__ import annotations

import os
import sys

from jobs.common import mlflow_setup, mlflow_tracking_uri


def latest_promotion(experiment: str = "avazu_ctr") -> dict[str, object]:
    """The newest finished evaluate_and_promote task run and its DAG run."""
    import mlflow

    exp_id = mlflow_setup(experiment)
    runs = mlflow.MlflowClient().search_runs(
        [exp_id], filter_string="tags.`airflow.task_id` = 'evaluate_and_promote' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    if not runs:
        raise LookupError(f"no finished avazu_ctr promotion in {mlflow_tracking_uri()}")
    r = runs[0]
    return {
        "experiment_id": exp_id,
        "parent_run_id": r.data.tags.get("mlflow.parentRunId"),
        "task_run_id": r.info.run_id,
        "airflow_run_id": r.data.tags.get("airflow.run_id"),
        "model": r.data.tags.get("registered_model"),
        "version": r.data.tags.get("registered_version"),
        "alias": r.data.tags.get("alias"),
        **{k: v for k, v in r.data.metrics.items()},
    }


def main() -> int:
    info = latest_promotion()
    ui = os.environ.get("MLFLOW_UI_URL", "http://127.0.0.1:5000")
    print("\n=== avazu_ctr: latest run ===")
    print(f"MLflow store      : {mlflow_tracking_uri()}")
    print(f"Airflow run       : {info['airflow_run_id']}")
    print(f"MLflow DAG run    : {info['parent_run_id']}  ({ui}/#/experiments/{info['experiment_id']}/runs/{info['parent_run_id']})")
    print(f"Registered model  : {info['model']} version {info['version']} -> alias @{info['alias']}")
    auc, oracle = info.get("holdout_auc"), info.get("oracle_auc")
    line = f"Holdout AUC       : {auc:.4f}"
    if oracle is not None:
        line += f"   oracle AUC {oracle:.4f}   gap {oracle - auc:.4f}"
    if info.get("champion_holdout_auc") is not None:
        line += f"   (previous champion on the same holdout: {info['champion_holdout_auc']:.4f})"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
