"""market_rl_training (weekly and manual): learning bidders and a learned pricer with Ray RLlib.

train_bidders -> evaluate_bidders -> train_pricing -> register -> report

Four learning advertisers replace their scripted strategies (jobs/profiles/market_rl_training.yaml),
each bidding through its script with a bid multiplier per customer lifecycle stage: aggressive and
adaptive with PPO, conservative with DQN (a discrete grid: a level for all stages, tilted toward the stages
where a click converts more), retargeting
with APPO (A3C no longer exists in RLlib). Each algorithm family goes through the curriculum
(basic bidding at complexity 0.3, customer lifecycle 0.6, full retargeting 1.0; promoted on a
reward threshold or its iteration budget), with checkpoints, learning curves and TensorBoard
logs in MLflow. Each learned bidder is then played against the scripted strategy it
replaces on fixed seeds at equal budget, and the report says, with intervals, whether it
beats it. PPO also learns a pricing policy on the dynamic-pricing env, as a residual on the
elasticity rule (its state's agent fraction estimated by the agent_classifier champion when there
is one), compared with the fixed, surge and elasticity rules and judged against elasticity.
Registered: bidder_<agent> and pricing_policy
(champion / challenger). A Ray cluster address in RAY_ADDRESS scales the env runners out.
Leave a Param empty to use the profile's value (jobs/profiles/market_rl_training.yaml).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _common import LEARNED_POLICIES, default_args, opt_param, profile_param, run_task, schedule
from airflow.sdk import dag, task

PIPELINE = "market_rl_training"

PARAMS = {
    "profile": profile_param(
        "smoke: one iteration per curriculum stage, about 1.5 minutes (CI); demo: 3/3/4 "
        "iterations, minutes; medium: 15/15/20 iterations and 3 league rounds, under 45 minutes, the README's "
        "verdicts; full: 200/300/500 iterations on 10,000 customers.",
        pipeline=PIPELINE,
    ),
    "seed": opt_param("integer", "Seed", "Seeds RLlib, the envs and the evaluation seeds."),
    "customers": opt_param("integer", "Customers", "Training market size at complexity 1.", minimum=100),
    "episode_steps": opt_param("integer", "Episode hours", "Hours per episode at complexity 1.", minimum=24),
    "batch": opt_param("integer", "Batch", "Env steps per training iteration.", minimum=24),
    "envs_per_runner": opt_param(
        "integer", "Envs per runner", "Market copies stepped together (PPO, APPO).", minimum=1
    ),
    "dqn_envs_per_runner": opt_param(
        "integer", "DQN envs per runner", "Market copies stepped together by DQN (one update per episode's worth "
        "of sampled steps whatever the count).", minimum=1
    ),
    "cluster_env_runners": opt_param(
        "integer", "Cluster env runners", "Env runners as Ray actors when RAY_ADDRESS names a cluster.", minimum=0
    ),
    "checkpoint_every": opt_param("integer", "Checkpoint every", "Iterations between checkpoints.", minimum=1),
    "eval_every": opt_param(
        "integer", "Evaluate every", "Iterations between evaluations; the best module is kept.", minimum=1
    ),
    "eval_seeds": opt_param("integer", "Evaluation seeds", "Fixed seeds of learned vs scripted during training "
                            "(the best module per agent is picked on them).", minimum=2),
    "verdict_seeds": opt_param("integer", "Verdict seeds", "Fixed seeds of the final learned-vs-scripted verdict "
                               "(apart from the evaluation seeds).", minimum=2),
    "eval_steps": opt_param("integer", "Evaluation hours", "Hours per evaluation run.", minimum=24),
    "league_rounds": opt_param(
        "integer", "League rounds", "After the curriculum, rounds of each family re-training against the other "
        "learners' policies (0: none).", minimum=0
    ),
    "league_iterations": opt_param("integer", "League iterations", "Iterations per family and league round.",
                                   minimum=1),
    "pricing_timesteps": opt_param("integer", "Pricing PPO steps", "Env steps of PPO on the pricing env.", minimum=200),
}


@dag(
    dag_id=PIPELINE,
    dag_display_name="Market RL training: learning bidders (RLlib curriculum) and PPO pricing",
    description="Multi-agent RLlib training with a curriculum, honest evaluation against the scripted strategies",
    schedule=schedule("@weekly"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["rl", "rllib", "multi-agent", "pricing", "mlflow"],
    params=PARAMS,
    default_args=default_args(PIPELINE),
    doc_md=__doc__,
)
def market_rl_training() -> None:
    @task(task_display_name="Train bidders (curriculum)")
    def train_bidders() -> dict[str, Any]:
        """PPO, DQN and APPO families through the curriculum; checkpoints, curves, TensorBoard."""
        return run_task(PIPELINE, "train_bidders", None)

    @task(task_display_name="Evaluate vs scripted")
    def evaluate_bidders(state: dict[str, Any]) -> dict[str, Any]:
        """Each learned bidder against the strategy it replaces, fixed seeds, equal budget."""
        return run_task(PIPELINE, "evaluate_bidders", state)

    @task(task_display_name="Train pricing (PPO)")
    def train_pricing(state: dict[str, Any]) -> dict[str, Any]:
        """PPO on the pricing env; compared with fixed, surge and elasticity."""
        return run_task(PIPELINE, "train_pricing", state)

    @task(task_display_name="Register policies", outlets=[LEARNED_POLICIES])
    def register(state: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        """bidder_<agent> and pricing_policy, champion / challenger."""
        out = run_task(PIPELINE, "register", state)
        outlet_events[LEARNED_POLICIES].extra = {
            k: f"v{v['version']}@{v['alias']}" for k, v in out["registered"].items()
        }
        return out

    @task(task_display_name="Report")
    def report(state: dict[str, Any]) -> dict[str, Any]:
        """Learned vs scripted with intervals, time per stage, pricing table."""
        return run_task(PIPELINE, "report", state)

    report(register(train_pricing(evaluate_bidders(train_bidders()))))


market_rl_training()
