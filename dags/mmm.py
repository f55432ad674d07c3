"""mmm: weekly (or daily) marketing data in any layout a data spec describes (default: geo x brand x SKU)
-> hierarchical marketing mix model -> ROI curves, what-if scenarios and a constrained budget optimiser.

ingest -> validate -> fit -> evaluate -> curves -> optimise -> report

The model (PyTorch MAP with a Laplace posterior): geometric adstock and Hill saturation per
channel, media effects pooled across the hierarchy's levels (geoindia: brand and geo), optional
ROI priors per channel, a baseline driven by the spec's controls (geoindia: distribution, trade
spend, price, promotions, festivals) and seasonality. The last ``holdout_weeks`` are
held out and scored at four levels; on synthetic data the ROI estimates are checked
against the truth. The ``report`` step registers ``mmm`` (pyfunc: spend plan in,
predicted sales out) as champion or challenger and updates the Asset ``mmm.champion``.
Leave a Param empty to use the profile's value (jobs/profiles/mmm.yaml).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _common import MMM_CHAMPION, default_args, kaggle_connection_to_env, opt_param, profile_param, run_task
from airflow.sdk import dag, task

PIPELINE = "mmm"

PARAMS = {
    "profile": profile_param(
        "smoke: 2 geos, 18 series, about 20 s (CI; set Subset {} for another preset); demo: 72 series, 156 weeks; "
        "full: more draws."
    ),
    "source": opt_param(
        "string",
        "Source",
        "auto (kaggle when credentials exist, else synthetic), kaggle, local or synthetic.",
        examples=["auto", "kaggle", "local", "synthetic"],
    ),
    "local_path": opt_param("string", "Local CSV", "A CSV the data spec describes (geoindia: the Kaggle file)."),
    "data_preset": opt_param(
        "string",
        "Data preset",
        "geoindia (geo x brand x SKU, six channels) or national (one series, a channel per <name>_spend column).",
        examples=["geoindia", "national"],
    ),
    "data_spec": opt_param(
        "object",
        "Data spec",
        'Fields overriding the preset\'s, e.g. {"date": "week", "target": "revenue", "hierarchy": ["region"], '
        '"channels": [{"name": "tv", "volume": "tv_grp", "spend": "tv_cost", "roi_prior": [1.5, 0.5]}], '
        '"controls": [{"column": "price", "transform": "log", "confounder": true}]}.',
    ),
    "seed": opt_param("integer", "Seed", "Seeds the synthetic data, the fit and the posterior draws."),
    "subset": opt_param("object", "Subset", 'Keep only these hierarchy members, e.g. {"Geo": ["CENTRAL", "SOUTH"]}.'),
    "cpm": opt_param(
        "object",
        "Cost per thousand",
        'Per channel without a spend column, e.g. {"TV": 3.0}: volume -> spend -> ROI (overrides the spec\'s).',
    ),
    "adstock": opt_param(
        "string",
        "Adstock",
        "geometric (decay) or weibull (a delayed peak is possible).",
        examples=["geometric", "weibull"],
    ),
    "saturation": opt_param("string", "Saturation", "hill or logistic.", examples=["hill", "logistic"]),
    "holdout_weeks": opt_param(
        "integer", "Holdout weeks", "Last weeks held out (also the plans' reference period).", minimum=4
    ),
    "adam_steps": opt_param("integer", "Adam steps", "Steps before L-BFGS and Newton polish the mode.", minimum=1),
    "n_draws": opt_param("integer", "Posterior draws", "Laplace draws behind every interval.", minimum=20),
    "interval": opt_param("number", "Interval level", "e.g. 0.9.", minimum=0.5, exclusiveMaximum=1),
    "gate_r2": opt_param("number", "Gate: R2", "Holdout R^2 at the spec's gate level needed to register."),
    "gate_mape": opt_param("number", "Gate: MAPE", "Holdout MAPE allowed at the spec's gate level."),
    "budget": opt_param(
        "number", "Budget", "Optimiser budget over the reference quarter (0 = today's total).", minimum=0
    ),
    "channel_share": opt_param(
        "object", "Channel shares", 'Channel -> [min, max] share of the budget, e.g. {"TV": [0.2, 0.6]}.'
    ),
    "cell_bounds": opt_param("array", "Cell bounds", "[lo, hi] x today's spend for every channel x level cell."),
    "channel_cell_bounds": opt_param(
        "object", "Cell bounds per channel", "Channel -> [lo, hi], overriding Cell bounds."
    ),
    "frontier": opt_param("array", "Frontier budgets", "Budgets as multiples of today's, e.g. [0.8, 1.0, 1.2]."),
    "scenarios": opt_param(
        "object",
        "What-if scenarios",
        'Name -> rows {channel, <level>?, spend | scale}, e.g. {"TV +20%": [{"channel": "TV", "scale": 1.2}]} '
        "(empty: derived from the data).",
    ),
}


@dag(
    dag_id=PIPELINE,
    dag_display_name="MMM: marketing mix model, ROI curves, what-if and budget optimiser",
    description="Marketing data (any layout, by data spec) -> hierarchical MMM -> curves, scenarios, optimal split",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=4,
    tags=["mmm", "pytorch", "budget", "great-expectations", "mlflow"],
    params=PARAMS,
    default_args=default_args(PIPELINE),
    doc_md=__doc__,
)
def mmm() -> None:
    @task(task_display_name="Ingest (kaggle / local / synthetic)")
    def ingest() -> dict[str, Any]:
        """The weekly CSV as Parquet; the synthetic truth is saved apart."""
        kaggle_connection_to_env()
        return run_task(PIPELINE, "ingest", None)

    @task(task_display_name="Validate (GX + panel)")
    def validate(state: dict[str, Any]) -> dict[str, Any]:
        """GX suite (mmm_weekly, or generated from the data spec), flat channels and missing periods."""
        return run_task(PIPELINE, "validate", state)

    @task(task_display_name="Fit (MAP + Laplace)")
    def fit(state: dict[str, Any]) -> dict[str, Any]:
        """Hierarchical MMM on all but the holdout weeks; posterior draws."""
        return run_task(PIPELINE, "fit", state)

    @task(task_display_name="Evaluate (holdout, decomposition, ROI)")
    def evaluate(state: dict[str, Any]) -> dict[str, Any]:
        """Holdout metrics per level, waterfall, ROI with intervals (vs truth), the gate."""
        return run_task(PIPELINE, "evaluate", state)

    @task(task_display_name="Response curves")
    def curves(state: dict[str, Any]) -> dict[str, Any]:
        """Incremental value and marginal ROI per channel, nationally and per level member."""
        return run_task(PIPELINE, "curves", state)

    @task(task_display_name="Optimise budget + what-if")
    def optimise(state: dict[str, Any]) -> dict[str, Any]:
        """SLSQP budget split under the bounds, uplift interval, frontier, scenarios."""
        return run_task(PIPELINE, "optimise", state)

    @task(task_display_name="Register + report", outlets=[MMM_CHAMPION])
    def report(state: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
        """Register mmm (champion / challenger) and write report.md."""
        out = run_task(PIPELINE, "report", state)
        outlet_events[MMM_CHAMPION].extra = {k: out["registered"][k] for k in ("version", "alias")}
        return out

    report(optimise(curves(evaluate(fit(validate(ingest()))))))


mmm()
