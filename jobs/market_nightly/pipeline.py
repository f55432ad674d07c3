"""The market_nightly steps in order, each with what it reads from the earlier steps and what it writes for
the later ones; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.market_nightly import champions, compare, report, simulate
from jobs.market_nightly.config import EXPERIMENT, PIPELINE, load
from jobs.steps import Step, check_chain

STEPS = check_chain(
    PIPELINE,
    {
        "load_champions": Step(champions.run, reads=(), writes=("agent_scores_path", "champions")),
        "auction_scenarios": Step(
            simulate.run_auctions, reads=("champions",), writes=("auctions_dir", "ctr_sources", "learned_path")
        ),
        "pricing_scenarios": Step(
            simulate.run_pricing, reads=("agent_scores_path", "champions"), writes=("pricing_path",)
        ),
        "compare": Step(
            compare.run_compare,
            reads=("auctions_dir", "ctr_sources", "learned_path", "pricing_path"),
            writes=("compare_dir", "headline_ctr", "headlines"),
        ),
        "regression_gate": Step(compare.run_gate, reads=(), writes=("previous_night", "regressions")),
        "report": Step(
            report.run,
            reads=(
                "auctions_dir",
                "champions",
                "compare_dir",
                "headline_ctr",
                "headlines",
                "previous_night",
                "regressions",
            ),
            writes=("report_path",),
        ),
    },
)

__all__ = ["EXPERIMENT", "STEPS", "load"]
