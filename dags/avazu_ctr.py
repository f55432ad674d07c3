"""avazu_ctr: Avazu click logs -> Parquet sample -> GX -> Spark features -> LightGBM -> MLflow registry.

ingest -> sample -> validate_raw -> features -> validate_features -> train
-> evaluate_and_promote -> champion_changed -> publish_champion

Every task calls one step of ``jobs.avazu_ctr`` (heavy imports happen inside the task).
Leave a Param empty to use the chosen profile's value (profiles: jobs/profiles/avazu_ctr.yaml).
The validated features update the Asset ``avazu_ctr.features``; a new champion updates
``ctr_lightgbm.champion``, so downstream DAGs can be scheduled on either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _common import (
    AVAZU_FEATURES,
    CTR_CHAMPION,
    default_args,
    kaggle_connection_to_env,
    opt_param,
    profile_param,
    run_task,
)
from airflow.sdk import dag, task

PIPELINE = "avazu_ctr"


PARAMS = {
    "profile": profile_param("smoke: seconds (CI); demo: 1M rows, minutes; full: every Kaggle row."),
    "source": opt_param(
        "string",
        "Source",
        "auto (Kaggle if credentials exist, else synthetic), kaggle, local, synthetic.",
        examples=["auto", "kaggle", "local", "synthetic"],
    ),
    "local_path": opt_param("string", "Local file", "train.csv or train.gz, for source=local."),
    "synthetic_rows": opt_param("integer", "Synthetic rows", "Rows generated for source=synthetic.", minimum=100),
    "sample_rows": opt_param("integer", "Sample rows", "Rows kept by the sampler; 0 keeps all.", minimum=0),
    "sample_mode": opt_param(
        "string", "Sample mode", "first (first N rows) or random (seeded uniform sample).", examples=["first", "random"]
    ),
    "validation_engine": opt_param(
        "string", "Validation engine", "Great Expectations engine: auto (Spark above the row threshold), pandas or "
        "spark.", examples=["auto", "pandas", "spark"]
    ),
    "validation_spark_rows": opt_param(
        "integer", "Spark validation above", "auto: validate on Spark above this many rows.", minimum=0
    ),
    "seed": opt_param("integer", "Seed", "Seeds generation, sampling, split and LightGBM."),
    "split": opt_param(
        "string",
        "Split",
        "stratified (random 80/20 keeping the click rate) or time (last day held out).",
        examples=["stratified", "time"],
    ),
    "holdout_fraction": opt_param(
        "number", "Holdout fraction", "Holdout share for the stratified split.", exclusiveMinimum=0, maximum=0.5
    ),
    "use_id_encodings": opt_param(
        "boolean", "Id encodings", "Count and out-of-fold target encodings of site/app/device ids."
    ),
    "encoding_smoothing": opt_param(
        "number", "Encoding smoothing", "Prior weight (rows) of the target encoding.", minimum=0
    ),
    "learning_rate": opt_param("number", "Learning rate", "LightGBM learning rate.", exclusiveMinimum=0, maximum=1),
    "num_leaves": opt_param("integer", "Leaves", "LightGBM num_leaves.", minimum=2),
    "early_stopping_rounds": opt_param(
        "integer", "Early stopping", "Rounds without AUC gain before stopping.", minimum=1
    ),
    "num_boost_round": opt_param("integer", "Max rounds", "Upper bound on boosting rounds.", minimum=1),
    "min_data_in_leaf": opt_param("integer", "Min rows per leaf", "LightGBM min_data_in_leaf.", minimum=1),
    "train_in_memory_rows": opt_param(
        "integer", "In-memory training up to", "Above this many training rows LightGBM reads Parquet in batches.",
        minimum=0
    ),
    "model_name": opt_param("string", "Registered model", "Name in the MLflow model registry."),
}


@dag(
    dag_id=PIPELINE,
    dag_display_name="Avazu CTR: sample, validate, Spark features, LightGBM, registry",
    description="Avazu click logs to a LightGBM CTR champion in MLflow",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=4,
    tags=["ctr", "lightgbm", "spark", "great-expectations", "mlflow"],
    params=PARAMS,
    default_args=default_args(PIPELINE),
    doc_md=__doc__,
)
def avazu_ctr() -> None:
    @task(task_display_name="Ingest (Kaggle / local / synthetic)")
    def ingest() -> dict[str, Any]:
        """Download, locate or generate Avazu's train file."""
        kaggle_connection_to_env()
        return run_task(PIPELINE, "ingest", None)

    @task(task_display_name="Sample to ZSTD Parquet")
    def sample(state: dict[str, Any]) -> dict[str, Any]:
        """Stream the CSV (plain or gzip) into a Parquet sample with a manifest."""
        return run_task(PIPELINE, "sample", state)

    @task(task_display_name="Validate raw sample (GX)")
    def validate_raw(state: dict[str, Any]) -> dict[str, Any]:
        """Great Expectations suite avazu_raw."""
        return run_task(PIPELINE, "validate_raw", state)

    @task(task_display_name="Spark features")
    def features(state: dict[str, Any]) -> dict[str, Any]:
        """Split, encodings fitted on the training split, features as partitioned Parquet."""
        return run_task(PIPELINE, "features", state)

    @task(task_display_name="Validate features (GX)", outlets=[AVAZU_FEATURES])
    def validate_features(state: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        """Suites avazu_features (+ avazu_id_encodings); publishes the features Asset."""
        out = run_task(PIPELINE, "validate_features", state)
        outlet_events[AVAZU_FEATURES].extra = {"path": out["features_path"], "rows": out["feature_rows"]}
        return out

    @task(task_display_name="Train LightGBM")
    def train(state: dict[str, Any]) -> dict[str, Any]:
        """LightGBM with early stopping; logs metrics, importance and models to MLflow."""
        return run_task(PIPELINE, "train", state)

    @task(task_display_name="Evaluate and promote")
    def evaluate_and_promote(state: dict[str, Any]) -> dict[str, Any]:
        """Same-holdout comparison with the champion; registers and sets the alias."""
        return run_task(PIPELINE, "evaluate_and_promote", state)

    @task.short_circuit(task_display_name="Champion changed?")
    def champion_changed(state: dict[str, Any]) -> bool:
        """Continue only when the new version became the champion."""
        return state["alias"] == "champion"

    @task(task_display_name="Publish champion Asset", outlets=[CTR_CHAMPION])
    def publish_champion(state: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        """Update the champion Asset so consumers (market_nightly) pick up the new model."""
        extra = {"model": state["model_name"], "version": state["model_version"], "auc": state["holdout_auc"]}
        outlet_events[CTR_CHAMPION].extra = extra
        return extra

    promoted = evaluate_and_promote(train(validate_features(features(validate_raw(sample(ingest()))))))
    champion_changed(promoted) >> publish_champion(promoted)


avazu_ctr()
