"""``python -m jobs.report avazu_ctr``: what the latest avazu_ctr run produced, printed for a terminal."""

from __future__ import annotations

import os

from jobs.report import latest_promotion
from jobs.tracking import mlflow_tracking_uri


def print_latest() -> None:
    """MLflow run, registered version and alias, holdout AUC next to the oracle's."""
    info = latest_promotion()
    ui = os.environ.get("MLFLOW_UI_URL", "http://127.0.0.1:5000")
    print("\n=== avazu_ctr: latest run ===")
    print(f"MLflow store      : {mlflow_tracking_uri()}")
    print(f"Airflow run       : {info['airflow_run_id']}")
    link = f"{ui}/#/experiments/{info['experiment_id']}/runs/{info['parent_run_id']}"
    print(f"MLflow DAG run    : {info['parent_run_id']}  ({link})")
    print(f"Registered model  : {info['model']} version {info['version']} -> alias @{info['alias']}")
    auc, oracle = info.get("holdout_auc"), info.get("oracle_auc")
    line = f"Holdout AUC       : {auc:.4f}"
    if oracle is not None:
        line += f"   oracle AUC {oracle:.4f}   gap {oracle - auc:.4f}"
    if info.get("champion_holdout_auc") is not None:
        line += f"   (previous champion on the same holdout: {info['champion_holdout_auc']:.4f})"
    print(line)
