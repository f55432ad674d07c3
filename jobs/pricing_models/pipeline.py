"""The pricing_models steps in order, each with what it reads from the earlier steps and what it writes for
the later ones; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.pricing_models import classifier, distill, features, ingest, multitask, promote, validate
from jobs.pricing_models.config import EXPERIMENT, PIPELINE, load
from jobs.steps import Step, check_chain

STEPS = check_chain(
    PIPELINE,
    {
        "ingest_events": Step(
            ingest.run, reads=(), writes=("events_path", "events_sha256", "offers_path", "truth_path")
        ),
        "validate_events": Step(
            validate.run_events,
            reads=("events_path", "offers_path"),
            writes=("clean_events_path", "repairs", "validate_events"),
        ),
        "session_features": Step(features.run, reads=("clean_events_path", "offers_path"), writes=("features_path",)),
        "validate_features": Step(
            validate.run_features, reads=("features_path",), writes=("agent_share", "sessions", "validate_features")
        ),
        "train_agent_classifier": Step(
            classifier.run,
            reads=("features_path", "truth_path"),
            writes=(
                "classifier_auc",
                "classifier_gate",
                "classifier_precision",
                "classifier_predictions",
                "classifier_threshold",
                "classifier_uri",
            ),
        ),
        "train_multitask": Step(
            multitask.run,
            reads=("classifier_predictions", "features_path", "truth_path"),
            writes=("multitask_agent_auc", "multitask_uri", "purchase_auc"),
        ),
        "distill": Step(
            distill.run,
            reads=("classifier_predictions", "features_path", "multitask_uri", "truth_path"),
            writes=("pricing_path", "rules_uri", "tree_fidelity", "tree_revenue"),
        ),
        "evaluate_and_promote": Step(
            promote.run,
            reads=(
                "classifier_auc",
                "classifier_gate",
                "classifier_precision",
                "classifier_uri",
                "events_sha256",
                "features_path",
                "multitask_agent_auc",
                "multitask_uri",
                "pricing_path",
                "purchase_auc",
                "rules_uri",
                "tree_fidelity",
                "tree_revenue",
                "truth_path",
            ),
            writes=("registered", "report_html"),
        ),
    },
)

__all__ = ["EXPERIMENT", "STEPS", "load"]
