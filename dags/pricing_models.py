"""pricing_models: clickstream -> Spark session features -> XGBoost agent classifier ->
multi-task PyTorch model -> distilled pricing rules -> MLflow registry.

ingest_events -> validate_events -> session_features -> validate_features
-> train_agent_classifier -> train_multitask -> distill -> evaluate_and_promote

Registers ``agent_classifier`` (gated: holdout ROC-AUC and precision), ``pricing_multitask``
and ``pricing_rules`` with champion / challenger aliases; a new champion classifier updates
the Asset ``agent_classifier.champion``. Leave a Param empty to use the profile's value
(jobs/profiles/pricing_models.yaml).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _common import AGENT_CHAMPION, SESSION_FEATURES, default_args, opt_param, profile_param, run_task
from airflow.sdk import dag, task

PIPELINE = "pricing_models"

PARAMS = {
    "profile": profile_param(
        "smoke: 4,000 sessions, about a minute (CI); demo: 40,000 sessions; full: 400,000 (10M events)."
    ),
    "source": opt_param(
        "string",
        "Source",
        "synthetic, files (folder with events and offers), kafka, or served (what the online service logged).",
        examples=["synthetic", "files", "kafka", "served"],
    ),
    "events_path": opt_param("string", "Events folder", "Events as *.jsonl / *.parquet plus offers.jsonl|parquet."),
    "kafka_bootstrap": opt_param("string", "Kafka brokers", "Broker list for source=kafka, e.g. localhost:9092."),
    "kafka_topic": opt_param("string", "Kafka topic", "Topic with the events."),
    "kafka_max_messages": opt_param("integer", "Kafka max messages", "Stop consuming after this many.", minimum=1),
    "served_days": opt_param("integer", "Served days", "source=served: the days of the service's log to read.",
                             minimum=1),
    "n_sessions": opt_param("integer", "Sessions", "Synthetic sessions.", minimum=200),
    "n_products": opt_param("integer", "Products", "Synthetic catalogue size.", minimum=10),
    "label_noise": opt_param(
        "number", "Label noise", "Share of sessions logged under the wrong cohort.", minimum=0, exclusiveMaximum=0.5
    ),
    "seed": opt_param("integer", "Seed", "Generation, split, XGBoost, PyTorch."),
    "validation_engine": opt_param(
        "string", "Validation engine", "Where the event repairs and the suites run: auto (Spark above the row count), "
        "pandas or spark.", examples=["auto", "pandas", "spark"],
    ),
    "validation_spark_rows": opt_param(
        "integer", "Spark validation above (events)", "auto: the repairs and suites run on Spark above this many "
        "events.", minimum=0,
    ),
    "holdout_fraction": opt_param("number", "Holdout fraction", "Sessions held out.", exclusiveMinimum=0, maximum=0.5),
    "xgb_rounds": opt_param("integer", "XGBoost rounds", "Upper bound on boosting rounds.", minimum=1),
    "xgb_depth": opt_param("integer", "XGBoost depth", "max_depth.", minimum=1, maximum=16),
    "xgb_learning_rate": opt_param("number", "XGBoost learning rate", "eta.", exclusiveMinimum=0, maximum=1),
    "gate_auc": opt_param(
        "number", "Gate: ROC-AUC", "Minimum holdout ROC-AUC to register the classifier.", minimum=0, maximum=1
    ),
    "gate_precision": opt_param(
        "number", "Gate: precision", "Minimum precision at the operating threshold.", minimum=0, maximum=1
    ),
    "mt_epochs": opt_param("integer", "Multi-task epochs", "Upper bound on epochs.", minimum=1),
    "mt_batch": opt_param("integer", "Multi-task batch", "Batch size.", minimum=8),
    "mt_lr": opt_param("number", "Multi-task learning rate", "Adam learning rate.", exclusiveMinimum=0),
    "mt_alpha": opt_param("number", "Loss weight: agent", "alpha in alpha*BCE(agent) + beta*BCE(purchase).", minimum=0),
    "mt_beta": opt_param(
        "number", "Loss weight: purchase", "beta in alpha*BCE(agent) + beta*BCE(purchase).", minimum=0
    ),
    "mt_patience": opt_param("integer", "Early-stopping patience", "Epochs without validation gain.", minimum=1),
    "price_grid_min": opt_param(
        "number", "Grid: lowest multiple", "Lowest price as a multiple of list price.", exclusiveMinimum=0
    ),
    "price_grid_max": opt_param(
        "number", "Grid: highest multiple", "Highest price as a multiple of list price.", exclusiveMinimum=0
    ),
    "price_grid_steps": opt_param("integer", "Grid steps", "Prices on the grid.", minimum=2),
    "agent_uplift": opt_param(
        "number", "Agent uplift (lambda)", "lambda in p * P(buy|p) * (1 + lambda * P(agent)).", minimum=0
    ),
    "markup_threshold": opt_param(
        "number",
        "Markup rule: threshold",
        "P(agent) above which the markup applies.",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    ),
    "markup": opt_param("number", "Markup", "Multiple of list price charged by the markup rule.", exclusiveMinimum=0),
    "velocity_threshold": opt_param(
        "number", "Legacy rule: velocity", "Events per minute above which the legacy rule marks an agent.", minimum=0
    ),
    "tree_depth": opt_param("integer", "Tree depth", "Depth of the distilled decision tree.", minimum=1, maximum=5),
    "tree_fit_rows": opt_param("integer", "Tree: training sessions", "At most this many training sessions (a seeded "
                               "sample) teach the distilled tree.", minimum=100),
}


@dag(
    dag_id=PIPELINE,
    dag_display_name="Pricing models: agent detection, multi-task pricing, distilled rules",
    description="Clickstream sessions to an agent classifier, a multi-task pricing model and readable pricing rules",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=4,
    tags=["pricing", "xgboost", "pytorch", "spark", "great-expectations", "mlflow"],
    params=PARAMS,
    default_args=default_args(PIPELINE),
    doc_md=__doc__,
)
def pricing_models() -> None:
    @task(task_display_name="Ingest events (files / Kafka / synthetic)")
    def ingest_events() -> dict[str, Any]:
        """Events and price-experiment offers; the synthetic truth is saved apart."""
        return run_task(PIPELINE, "ingest_events", None)

    @task(task_display_name="Repair + validate events (GX)")
    def validate_events(state: dict[str, Any]) -> dict[str, Any]:
        """Counted repairs (duplicates, order), then suites clickstream_events and price_offers."""
        return run_task(PIPELINE, "validate_events", state)

    @task(task_display_name="Spark session features")
    def session_features(state: dict[str, Any]) -> dict[str, Any]:
        """29 features per session, cohort label, seeded split."""
        return run_task(PIPELINE, "session_features", state)

    @task(task_display_name="Validate features (GX)", outlets=[SESSION_FEATURES])
    def validate_features(state: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        """Suite session_features; publishes the features Asset."""
        out = run_task(PIPELINE, "validate_features", state)
        outlet_events[SESSION_FEATURES].extra = {"path": out["features_path"], "sessions": out["sessions"]}
        return out

    @task(task_display_name="Train agent classifier (XGBoost)")
    def train_agent_classifier(state: dict[str, Any]) -> dict[str, Any]:
        """AUCs, precision/recall, reliability, SHAP, leave-one-kind-out."""
        return run_task(PIPELINE, "train_agent_classifier", state)

    @task(task_display_name="Train multi-task model (PyTorch)")
    def train_multitask(state: dict[str, Any]) -> dict[str, Any]:
        """P(agent) and P(purchase | price) with early stopping and learning curves."""
        return run_task(PIPELINE, "train_multitask", state)

    @task(task_display_name="Price and distil rules")
    def distill(state: dict[str, Any]) -> dict[str, Any]:
        """Teacher prices, depth-5 tree, readable rules, policy comparison."""
        return run_task(PIPELINE, "distill", state)

    @task(task_display_name="Gate, evaluate and promote")
    def evaluate_and_promote(state: dict[str, Any]) -> dict[str, Any]:
        """Champion / challenger per model on the same holdout."""
        return run_task(PIPELINE, "evaluate_and_promote", state)

    @task.short_circuit(task_display_name="Classifier champion changed?")
    def classifier_changed(state: dict[str, Any]) -> bool:
        return state["registered"]["classifier"]["alias"] == "champion"

    @task(task_display_name="Publish classifier champion Asset", outlets=[AGENT_CHAMPION])
    def publish_champion(state: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        """Update the champion Asset so consumers (market_nightly) pick up the new model."""
        extra = {k: f"v{v['version']}@{v['alias']}" for k, v in state["registered"].items()}
        outlet_events[AGENT_CHAMPION].extra = extra
        return extra

    promoted = evaluate_and_promote(distill(train_multitask(train_agent_classifier(
        validate_features(session_features(validate_events(ingest_events())))))))
    classifier_changed(promoted) >> publish_champion(promoted)


pricing_models()
