"""market_nightly: every night (and whenever a new CTR, agent-classifier or learned-policy champion
lands), the champions are evaluated in the market simulators.

load_champions -> auction_scenarios -> pricing_scenarios -> compare -> regression_gate -> report

Auctions: the five scripted advertisers of jobs/profiles/market_advertisers.yaml compete for
a month of hourly retargeting auctions on a customer population with lifecycle stages; the
focal advertiser bids with the ctr_lightgbm champion, a noisy oracle or no CTR model, on
common random numbers over several seeds. Pricing: fixed, surge and elasticity pricing (and
the elasticity rule fed by the agent_classifier champion's estimate of the agent mix) in the
dynamic-pricing env. The gate compares the headline metrics with the previous successful
night and fails only for the configured metrics; the report is one HTML page in MLflow.
A missing champion is skipped with a log line. Leave a Param empty to use the profile's value
(jobs/profiles/market_nightly.yaml).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _common import (
    AGENT_CHAMPION,
    CTR_CHAMPION,
    LEARNED_POLICIES,
    default_args,
    opt_param,
    profile_param,
    run_task,
    schedule,
)
from airflow.sdk import dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

PIPELINE = "market_nightly"

PARAMS = {
    "profile": profile_param(
        "smoke: 2,000 customers, 4 days, seconds (CI); demo: 10,000 customers, a month, 5 seeds; "
        "full: 100,000 customers, a quarter, 10 seeds."
    ),
    "seed": opt_param("integer", "Seed", "Base seed of the simulations."),
    "seeds": opt_param("integer", "Seeds", "Simulation seeds per scenario (intervals are over seeds).", minimum=2),
    "customers": opt_param("integer", "Customers", "Customer population.", minimum=10),
    "steps": opt_param("integer", "Hours", "Auction timesteps per run.", minimum=24),
    "arrival_rate": opt_param("number", "Arrival rate", "Ad opportunities per customer per hour.", exclusiveMinimum=0),
    "advertisers": opt_param("array", "Advertisers", "Subset of the scripted advertisers (empty = all five)."),
    "auction_scenarios": opt_param("object", "Auction scenarios", "Name -> advertisers competing (empty list = all)."),
    "ctr_estimates": opt_param(
        "array", "pCTR sources", "Compared for the focal advertiser: champion, noisy_oracle, none."
    ),
    "ctr_focal": opt_param("string", "Focal advertiser", 'Whose pCTR source varies ("us").'),
    "pricing_seeds": opt_param("integer", "Pricing seeds", "Episodes per pricing policy and scenario.", minimum=2),
    "pricing_scenarios": opt_param(
        "object", "Pricing scenarios", 'Name -> overrides, e.g. {"agents 80%": {"agent_fraction": 0.8}}.'
    ),
    "gate_fail_on": opt_param(
        "array",
        "Gate: fail on",
        "Headline metrics whose regression fails the run: market_roas, "
        "market_revenue, market_ctr, pricing_best_revenue.",
    ),
}


@dag(
    dag_id=PIPELINE,
    dag_display_name="Market nightly: champions in the auction and pricing simulators",
    description="Nightly evaluation of the champions in simulated markets, with a regression gate",
    schedule=schedule(AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 2 * * *", timezone="UTC"),
        assets=(CTR_CHAMPION | AGENT_CHAMPION | LEARNED_POLICIES),
    )),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["simulation", "auctions", "pricing", "nightly", "mlflow"],
    params=PARAMS,
    default_args=default_args(PIPELINE),
    doc_md=__doc__,
)
def market_nightly() -> None:
    @task(task_display_name="Load champions")
    def load_champions() -> dict[str, Any]:
        """ctr_lightgbm, agent_classifier, pricing_policy @champion; a missing one is skipped."""
        return run_task(PIPELINE, "load_champions", None)

    @task(task_display_name="Auction scenarios")
    def auction_scenarios(state: dict[str, Any]) -> dict[str, Any]:
        """Scenarios x pCTR sources x seeds of the retargeting market."""
        return run_task(PIPELINE, "auction_scenarios", state)

    @task(task_display_name="Pricing scenarios")
    def pricing_scenarios(state: dict[str, Any]) -> dict[str, Any]:
        """Scenarios x pricing policies x seeds of the dynamic-pricing env."""
        return run_task(PIPELINE, "pricing_scenarios", state)

    @task(task_display_name="Compare policies")
    def compare(state: dict[str, Any]) -> dict[str, Any]:
        """Means and 95% intervals over seeds; what the CTR model is worth; headline metrics."""
        return run_task(PIPELINE, "compare", state)

    @task(task_display_name="Regression gate")
    def regression_gate(state: dict[str, Any]) -> dict[str, Any]:
        """Headlines against the previous successful night; fails only for gate_fail_on."""
        return run_task(PIPELINE, "regression_gate", state)

    @task(task_display_name="Report (HTML)")
    def report(state: dict[str, Any]) -> dict[str, Any]:
        """One HTML page with the plots, logged to MLflow."""
        return run_task(PIPELINE, "report", state)

    report(regression_gate(compare(pricing_scenarios(auction_scenarios(load_champions())))))


market_nightly()
