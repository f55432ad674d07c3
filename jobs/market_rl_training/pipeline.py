"""The market_rl_training steps in order; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.market_rl_training import publish, train
from jobs.market_rl_training.config import EXPERIMENT, load

STEPS = {
    "train_bidders": train.run_train_bidders,
    "evaluate_bidders": train.run_evaluate_bidders,
    "train_pricing": train.run_train_pricing,
    "register": publish.run_register,
    "report": publish.run_report,
}

__all__ = ["EXPERIMENT", "STEPS", "load"]
