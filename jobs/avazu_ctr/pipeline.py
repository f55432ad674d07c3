"""The avazu_ctr steps in order; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.avazu_ctr import features, ingest, promote, sample, train, validate
from jobs.avazu_ctr.config import EXPERIMENT, load

STEPS = {
    "ingest": ingest.run,
    "sample": sample.run,
    "validate_raw": validate.run_raw,
    "features": features.run,
    "validate_features": validate.run_features,
    "train": train.run,
    "evaluate_and_promote": promote.run,
}

__all__ = ["EXPERIMENT", "STEPS", "load"]
