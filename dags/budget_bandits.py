"""budget_bandits (daily): Thompson-sampling budget split across customer segments, with pacing.

ingest_facts -> validate_facts -> allocate -> simulate -> insights

Each day: posteriors from the segment facts (discounted Beta-Binomial on CVR, clicks per
unit of spend), tomorrow's plan by probability matching, projected exactly onto the
pacing constraints (floor, daily cap, sum 1); the plan (plan.csv, plan.parquet) updates
the Asset ``budget_bandits.plan``. The simulation replays the policy against uniform,
greedy and epsilon-greedy baselines and the oracle over many seeds; insights turns the
numbers into an analyst summary and a strategist recommendation.
Leave a Param empty to use the chosen profile's value (jobs/profiles/budget_bandits.yaml).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _common import BUDGET_PLAN, default_args, opt_param, profile_param, run_task, schedule
from airflow.sdk import dag, task

PIPELINE = "budget_bandits"

PARAMS = {
    "profile": profile_param("smoke: 12 segments, seconds (CI); demo: 50 segments, 20 seeds; full: 200 segments."),
    "source": opt_param("string", "Source", "synthetic (world with ground truth) or local (facts file).",
                        examples=["synthetic", "local"]),
    "local_path": opt_param("string", "Facts file", "Parquet or CSV with day, segment_key, clicks, conv, spent."),
    "seed": opt_param("integer", "Seed", "Seeds the world, the plan's draws and the simulation."),
    "n_segments": opt_param("integer", "Segments", "Synthetic segments.", minimum=2),
    "history_days": opt_param("integer", "History days", "Synthetic days of facts before the plan.", minimum=1),
    "horizon_days": opt_param("integer", "Simulated days", "Days simulated after the facts.", minimum=1),
    "daily_budget": opt_param("number", "Daily budget", "Budget split across segments per day.", exclusiveMinimum=0),
    "prior_alpha": opt_param("number", "Prior alpha", "Beta prior on CVR per click.", exclusiveMinimum=0),
    "prior_beta": opt_param("number", "Prior beta", "Beta prior on CVR per click.", exclusiveMinimum=0),
    "discount": opt_param("number", "Discount", "Weight of a fact one day older (1 = never forget).",
                          exclusiveMinimum=0, maximum=1),
    "mode": opt_param("string", "Allocation mode", "best (share of draws a segment wins) or proportional.",
                      examples=["best", "proportional"]),
    "n_draws": opt_param("integer", "Posterior draws", "Draws behind the published plan.", minimum=1),
    "floor": opt_param("number", "Floor", "Minimum share per segment.", minimum=0, maximum=1),
    "cap": opt_param("number", "Daily cap", "Maximum change of a segment's share from one day to the next.",
                     exclusiveMinimum=0, maximum=1),
    "epsilon": opt_param("number", "Epsilon", "Exploration days of the epsilon-greedy baseline.", minimum=0, maximum=1),
    "sim_seeds": opt_param("integer", "Simulation seeds", "Seeds behind the regret intervals.", minimum=2),
    "sim_draws": opt_param("integer", "Simulation draws", "Posterior draws per simulated day.", minimum=1),
    "cvr_drift": opt_param("number", "CVR drift", "Daily random-walk step of logit(CVR) in the world.", minimum=0),
    "cpc_drift": opt_param("number", "CPC drift", "Daily random-walk step of log(CPC) in the world.", minimum=0),
    "insights_backend": opt_param("string", "Insights backend", "template (offline) or llm (LLM_API_BASE/LLM_API_KEY).",
                                  examples=["template", "llm"]),
    "llm_model": opt_param("string", "LLM model", "Model name for the llm backend."),
}


@dag(
    dag_id=PIPELINE,
    dag_display_name="Budget bandits: Thompson-sampling budget allocation with pacing",
    description="Daily budget plan across segments, regret against baselines, insights",
    schedule=schedule("@daily"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["bandits", "thompson-sampling", "budget", "great-expectations", "mlflow"],
    params=PARAMS,
    default_args=default_args(PIPELINE),
    doc_md=__doc__,
)
def budget_bandits() -> None:
    @task(task_display_name="Ingest facts (local / synthetic)")
    def ingest_facts() -> dict[str, Any]:
        """Daily facts per segment; the synthetic world's truth is saved apart."""
        return run_task(PIPELINE, "ingest_facts", None)

    @task(task_display_name="Validate facts (GX)")
    def validate_facts(state: dict[str, Any]) -> dict[str, Any]:
        """Suite budget_facts: negative counts, conversions > clicks, duplicate (day, segment)."""
        return run_task(PIPELINE, "validate_facts", state)

    @task(task_display_name="Allocate tomorrow's budget", outlets=[BUDGET_PLAN])
    def allocate(state: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        """Thompson-sampling plan with exact pacing; writes plan.csv / plan.parquet."""
        out = run_task(PIPELINE, "allocate", state)
        outlet_events[BUDGET_PLAN].extra = {"path": out["plan_path"], "day": out["plan_day"]}
        return out

    @task(task_display_name="Simulate vs baselines")
    def simulate(state: dict[str, Any]) -> dict[str, Any]:
        """Regret against the oracle for TS, uniform, greedy, epsilon-greedy over many seeds."""
        return run_task(PIPELINE, "simulate", state)

    @task(task_display_name="Insights")
    def insights(state: dict[str, Any]) -> dict[str, Any]:
        """Analyst summary and strategist recommendation (text from the numbers)."""
        return run_task(PIPELINE, "insights", state)

    insights(simulate(allocate(validate_facts(ingest_facts()))))


budget_bandits()
