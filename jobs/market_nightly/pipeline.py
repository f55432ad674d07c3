"""The market_nightly steps in order; the DAG and the CLI both run them through ``jobs.runner``."""

from __future__ import annotations

from jobs.market_nightly import champions, compare, report, simulate
from jobs.market_nightly.config import EXPERIMENT, load

STEPS = {
    "load_champions": champions.run,
    "auction_scenarios": simulate.run_auctions,
    "pricing_scenarios": simulate.run_pricing,
    "compare": compare.run_compare,
    "regression_gate": compare.run_gate,
    "report": report.run,
}

__all__ = ["EXPERIMENT", "STEPS", "load"]
