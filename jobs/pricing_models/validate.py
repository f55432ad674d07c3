"""validate_events / validate_features: counted repairs, then the Great Expectations gates.

Repairs (documented, counted, logged as metrics and ``repairs.json``): exact duplicate
events, as an at-least-once Kafka export produces, are dropped; events out of time order
within a session are sorted. Everything else that is wrong stops the run before any
feature is written: unknown event types, negative prices, missing session ids or times,
two different events with the same (session, time, type, product), offers for sessions
without events.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.paths import RunContext, atomic_path, data_root, defer_link, write_json
from jobs.pricing_models.config import PricingConfig
from jobs.validation import validate_and_log
from models.common.errors import BadInputError

log = logging.getLogger(__name__)


def repair_events(events: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop exact duplicates and sort each session by time; returns the counts of both repairs."""
    before = len(events)
    events = events.drop_duplicates(ignore_index=True)
    in_file_order = events.sort_values("sessionId", kind="stable")  # each session's events as they arrived
    same = in_file_order["sessionId"].eq(in_file_order["sessionId"].shift())
    backwards = same & (in_file_order["timestamp"] < in_file_order["timestamp"].shift())
    reordered = int(in_file_order.loc[backwards, "sessionId"].nunique())
    events = events.sort_values(["sessionId", "timestamp"], kind="stable", ignore_index=True)
    return events, {"duplicate_events_dropped": before - len(events), "sessions_reordered": reordered}


def run_events(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Repair, validate (suites clickstream_events and price_offers) and write the clean events."""
    import mlflow

    events, repairs = repair_events(pd.read_parquet(state["events_path"]))
    vdir = ctx.run_dir / "validation"
    reports = [validate_and_log(events, "clickstream_events", f"events {state['events_path']}", vdir)]
    offers = pd.read_parquet(state["offers_path"])
    reports.append(validate_and_log(offers, "price_offers", f"offers {state['offers_path']}", vdir))
    orphans = ~offers["sessionId"].isin(events["sessionId"].unique())
    if orphans.any():
        raise BadInputError(f"{int(orphans.sum())} offers in {state['offers_path']} belong to sessions without events, "
                             f"e.g. {offers.loc[orphans, 'sessionId'].head(3).tolist()}")
    mlflow.log_metrics({k: float(v) for k, v in repairs.items()})
    out = ctx.run_dir / "events_clean" / "events.parquet"
    with atomic_path(out) as tmp:
        events.to_parquet(tmp, index=False, row_group_size=256_000)
    write_json(ctx.run_dir / "events_clean" / "repairs.json", repairs)
    log.info("events: %d rows after repairs %s", len(events), repairs)
    return {**state, "clean_events_path": str(out), "repairs": repairs, "validate_events": reports}


def current_features_link() -> Path:
    """The published (validated) session features of the latest successful run."""
    return data_root() / "pricing_models" / "features" / "current"


def run_features(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Suite session_features; ``features/current`` moves to them once the whole run has succeeded."""
    df = pd.read_parquet(state["features_path"])
    report = validate_and_log(df, "session_features", f"features {state['features_path']}", ctx.run_dir / "validation")
    counts = df.groupby("split")["label"].agg(["size", "mean"])
    log.info("features: %s", counts.to_dict())
    state = defer_link(state, Path(state["features_path"]).parent, current_features_link())
    return {**state, "validate_features": report,
            "sessions": {str(k): int(v) for k, v in counts["size"].items()},
            "agent_share": float(np.round(df["label"].mean(), 4))}
