"""The market_rl_training steps in order, each with what it reads from the earlier steps and what it writes for
the later ones; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.market_rl_training import publish, train
from jobs.market_rl_training.config import EXPERIMENT, PIPELINE, load
from jobs.steps import Step, check_chain

STEPS = check_chain(
    PIPELINE,
    {
        "train_bidders": Step(
            train.run_train_bidders, reads=(),
            writes=("bidders_dir", "env_steps_per_s", "league", "policies", "stage_seconds")
        ),
        "evaluate_bidders": Step(train.run_evaluate_bidders, reads=("policies",), writes=("bidder_eval",)),
        "train_pricing": Step(
            train.run_train_pricing, reads=(),
            writes=("pricing_eval", "pricing_module", "pricing_variant", "pricing_verdict")
        ),
        "register": Step(
            publish.run_register,
            reads=("bidder_eval", "policies", "pricing_eval", "pricing_module"),
            writes=("registered",),
        ),
        "report": Step(
            publish.run_report,
            reads=("bidder_eval", "bidders_dir", "env_steps_per_s", "league", "pricing_eval", "pricing_variant",
                   "pricing_verdict", "registered", "stage_seconds"),
            writes=("report_path", "report_html"),
        ),
    },
)

__all__ = ["EXPERIMENT", "STEPS", "load"]
