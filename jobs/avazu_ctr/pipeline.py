"""The avazu_ctr steps in order, each with what it reads from the earlier steps and what it writes for
the later ones; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.avazu_ctr import features, ingest, promote, sample, train, validate
from jobs.avazu_ctr.config import EXPERIMENT, PIPELINE, load
from jobs.steps import Step, check_chain

STEPS = check_chain(
    PIPELINE,
    {
        "ingest": Step(ingest.run, reads=(), writes=("ground_truth_path", "raw_path", "source")),
        "sample": Step(
            sample.run,
            reads=("raw_path", "source"),
            writes=("sample_manifest", "sample_path", "sample_rows", "sample_sha256"),
        ),
        "validate_raw": Step(validate.run_raw, reads=("sample_path", "sample_sha256"), writes=("validate_raw",)),
        "features": Step(features.run, reads=("sample_path",), writes=("feature_rows", "features_path", "prior")),
        "validate_features": Step(validate.run_features, reads=("features_path",), writes=("validate_features",)),
        "train": Step(
            train.run,
            reads=("features_path", "sample_path"),
            writes=("best_iteration", "holdout_auc", "holdout_predictions", "model_uri", "train_run_id"),
        ),
        "evaluate_and_promote": Step(
            promote.run,
            reads=(
                "features_path",
                "ground_truth_path",
                "holdout_predictions",
                "model_uri",
                "sample_path",
                "sample_sha256",
                "source",
            ),
            writes=("alias", "champion_auc", "model_name", "model_version", "oracle_auc"),
        ),
    },
)

__all__ = ["EXPERIMENT", "STEPS", "load"]
