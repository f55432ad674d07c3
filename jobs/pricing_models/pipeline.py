"""The pricing_models steps in order; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.pricing_models import classifier, distill, features, ingest, multitask, promote, validate
from jobs.pricing_models.config import EXPERIMENT, load

STEPS = {
    "ingest_events": ingest.run,
    "validate_events": validate.run_events,
    "session_features": features.run,
    "validate_features": validate.run_features,
    "train_agent_classifier": classifier.run,
    "train_multitask": multitask.run,
    "distill": distill.run,
    "evaluate_and_promote": promote.run,
}

__all__ = ["EXPERIMENT", "STEPS", "load"]
