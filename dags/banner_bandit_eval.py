"""banner_bandit_eval: Thompson-sampling banner selection, evaluated offline on logged data.

load_logs -> validate_logs -> evaluate

Logs: the Open Bandit Dataset (ZOZOTOWN; a uniform-random and a production Bernoulli
TS logger) and synthetic logs with known click rates. Estimators: replay, IPW, SNIPW
and doubly robust, each with a 95% bootstrap interval (replay: exact binomial), next to
the observed on-policy CTR (OBD) or the truth (synthetic), plus what the sample size can
and cannot resolve. Leave a Param empty to use the profile's value
(jobs/profiles/banner_bandit_eval.yaml).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _common import default_args, opt_param, profile_param, run_task
from airflow.sdk import dag, task

PIPELINE = "banner_bandit_eval"

PARAMS = {
    "profile": profile_param("smoke: seconds (CI); demo: 2,000 bootstrap replicates; full: 1M synthetic rows."),
    "source": opt_param("string", "Source", "logs (OBD + synthetic) or served (also the online service's "
                        "impressions, with the propensities it logged).", examples=["logs", "served"]),
    "served_days": opt_param("integer", "Served days", "source=served: days of impressions to evaluate.", minimum=1),
    "obd_dir": opt_param(
        "string", "OBD folder", "Folder with random/ and bts/ (<campaign>.csv or <campaign>/<campaign>.csv)."
    ),
    "campaign": opt_param("string", "Campaign", "OBD campaign (all, men, women)."),
    "seed": opt_param("integer", "Seed", "Seeds sampling, bootstrap, folds and synthetic logs."),
    "prior_days": opt_param(
        "integer", "Prior days", "Days of the random log that cold-start our TS policy.", minimum=1
    ),
    "prior_alpha": opt_param("number", "Prior alpha", "Beta prior on a creative's CTR.", exclusiveMinimum=0),
    "prior_beta": opt_param("number", "Prior beta", "Beta prior on a creative's CTR.", exclusiveMinimum=0),
    "n_draws": opt_param("integer", "Posterior draws", "Draws behind the TS action probabilities.", minimum=1),
    "n_boot": opt_param("integer", "Bootstrap replicates", "Replicates per interval.", minimum=50),
    "replay_batch": opt_param(
        "integer", "Replay batch", "Rows between posterior updates in the learning replay.", minimum=1
    ),
    "reward_model": opt_param(
        "string", "DR reward model",
        "contextual (position, creative, the user's features and affinity, where the log has them) or table.",
        examples=["contextual", "table"],
    ),
    "synthetic_rows": opt_param("integer", "Synthetic rows", "Rows per synthetic log.", minimum=1000),
}


@dag(
    dag_id=PIPELINE,
    dag_display_name="Banner bandit: off-policy evaluation on the Open Bandit Dataset",
    description="Replay, IPW and DR estimates of banner policies with bootstrap intervals",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=4,
    tags=["bandits", "thompson-sampling", "off-policy-evaluation", "great-expectations", "mlflow"],
    params=PARAMS,
    default_args=default_args(PIPELINE),
    doc_md=__doc__,
)
def banner_bandit_eval() -> None:
    @task(task_display_name="Load logs (OBD + synthetic)")
    def load_logs() -> dict[str, Any]:
        """OBD random and BTS logs (when present) and synthetic logs, in one schema."""
        return run_task(PIPELINE, "load_logs", None)

    @task(task_display_name="Validate logs (GX)")
    def validate_logs(state: dict[str, Any]) -> dict[str, Any]:
        """Suite banner_logs: clicks in {0, 1}, propensities in (0, 1], ids."""
        return run_task(PIPELINE, "validate_logs", state)

    @task(task_display_name="Off-policy evaluation")
    def evaluate(state: dict[str, Any]) -> dict[str, Any]:
        """Replay, IPW, SNIPW, DR with intervals; power notes; forest plots."""
        return run_task(PIPELINE, "evaluate", state)

    evaluate(validate_logs(load_logs()))


banner_bandit_eval()
