"""What the pages show, read from MLflow through its client (runs, metrics, artifacts, registry): never from the
pipelines' data folder, so the dashboards show exactly what MLflow holds."""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

# What each registered model's ``score`` tag measures (jobs/registry.py registers every version with one), and
# where its oracle (the same measure with the true probabilities, where the data is synthetic) is found: a
# version tag or a metric of the run that logged the model.
SCORES = {"ctr_lightgbm": ("holdout AUC", "oracle_auc"), "agent_classifier": ("holdout AUC", "oracle_auc"),
          "pricing_multitask": ("holdout purchase AUC", "oracle_purchase_auc"),
          "pricing_rules": ("revenue per 1,000 sessions", None), "mmm": ("holdout R²", None),
          "pricing_policy": ("revenue per week", None), "banner_policy": ("clicks per impression", None)}
BIDDER_SCORE = ("ROAS", None)
# Where the truth is known but no oracle score exists, the error against the truth: (label, experiment, task of
# the same DAG run, metric). The MMM's ROI error against the simulated truth is what says whether to trust it.
VS_TRUTH = {"mmm": ("ROI error vs truth, %", "mmm", "evaluate", "recovery_mean_abs_roi_error_pct")}


def score_meaning(model: str) -> tuple[str, str | None]:
    """(what the score measures, the oracle's tag or metric name or None) for a registered model."""
    return BIDDER_SCORE if model.startswith("bidder_") else SCORES.get(model, ("score", None))


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _runs(client: Any, run_ids: set[str]) -> dict[str, Any]:
    """The runs of ``run_ids``, a few searches instead of one request each (hundreds of versions)."""
    experiments = [e.experiment_id for e in client.search_experiments(max_results=1000)]
    ids, found = sorted(run_ids), {}
    for i in range(0, len(ids), 100):
        chunk = ", ".join(f"'{r}'" for r in ids[i:i + 100])
        for run in client.search_runs(experiments, f"attributes.run_id IN ({chunk})", max_results=100):
            found[run.info.run_id] = run
    return found


def _vs_truth(client: Any, model: str) -> dict[str, float]:
    """DAG run id -> the model's error against the truth (:data:`VS_TRUTH`), for every run that has one."""
    if model not in VS_TRUTH:
        return {}
    _, experiment, task, metric = VS_TRUTH[model]
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return {}
    runs = client.search_runs([exp.experiment_id], f"tags.`airflow.task_id` = '{task}'", max_results=5000)
    return {r.data.tags.get("airflow.run_id", ""): r.data.metrics[metric] for r in runs if metric in r.data.metrics}


def model_history(client: Any) -> pd.DataFrame:
    """One row per registered model version: model, version, created (UTC), score, oracle, the error against
    the truth where :data:`VS_TRUTH` names one, alias, run and experiment ids; oldest first within a model."""
    versions = []
    for rm in client.search_registered_models(max_results=1000):
        aliases = {str(v): a for a, v in (rm.aliases or {}).items()}
        versions += [(rm.name, aliases, v)
                     for v in client.search_model_versions(f"name = '{rm.name}'", max_results=10_000)]
    runs = _runs(client, {v.run_id for _, _, v in versions if v.run_id}) if versions else {}
    truth = {name: _vs_truth(client, name) for name in {n for n, _, _ in versions}}
    rows = []
    for name, aliases, v in versions:
        _, oracle_key = score_meaning(name)
        run = runs.get(v.run_id or "")
        oracle = _float(v.tags.get(oracle_key)) if oracle_key else None
        if oracle is None and oracle_key and run is not None:
            oracle = _float(run.data.metrics.get(oracle_key))
        rows.append({"model": name, "version": int(v.version),
                     "created": pd.Timestamp(v.creation_timestamp, unit="ms", tz="UTC"),
                     "score": _float(v.tags.get("score")), "oracle": oracle,
                     "vs_truth": truth[name].get(v.tags.get("airflow.run_id", "")),
                     "alias": aliases.get(str(v.version), ""), "run_id": v.run_id or "",
                     "experiment_id": run.info.experiment_id if run is not None else ""})
    cols = ["model", "version", "created", "score", "oracle", "vs_truth", "alias", "run_id", "experiment_id"]
    return pd.DataFrame(rows, columns=cols).sort_values(["model", "version"], ignore_index=True)


@dataclass
class LatestRun:
    """The newest finished DAG run of a pipeline with its artifacts read into memory (tables and texts)."""

    run_id: str  # the DAG run's parent MLflow run
    airflow_run_id: str
    experiment_id: str
    artifacts: dict[str, Any]  # artifact path -> DataFrame (.parquet, .csv) or str (other files)


def _read(path: Path) -> Any:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        try:
            return pd.read_csv(path)
        except pd.errors.EmptyDataError:  # a table with no rows (e.g. no learned bidder yet) is written empty
            return pd.DataFrame()
    return path.read_text()


_artifacts: OrderedDict[tuple[str, str], Any] = OrderedDict()
CACHED_ARTIFACTS = 512


def artifact(client: Any, run_id: str, path: str) -> Any:
    """One artifact of a finished run read into memory (DataFrame or text), downloaded once: a finished run's
    artifacts do not change, and pages re-read the same nights on every load."""
    key = (run_id, path)
    if key in _artifacts:
        _artifacts.move_to_end(key)
        return _artifacts[key]
    with tempfile.TemporaryDirectory() as tmp:
        value = _read(Path(client.download_artifacts(run_id, path, tmp)))
    _artifacts[key] = value
    if len(_artifacts) > CACHED_ARTIFACTS:
        _artifacts.popitem(last=False)
    return value


def latest_run(client: Any, experiment: str, wanted: dict[str, tuple[str, ...]]) -> LatestRun | None:
    """The newest finished DAG run of ``experiment`` whose tasks (keys of ``wanted``) all finished, with their
    artifacts (values: paths in each task's run); None when there is none."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    parents = _finished_dag_runs(client, exp.experiment_id, 20)
    for parent in parents:
        rid = parent.data.tags.get("airflow.run_id", "")
        runs = {t: _task_run(client, exp.experiment_id, rid, t) for t in wanted}
        if any(r is None for r in runs.values()):
            continue
        artifacts = {path: artifact(client, runs[task].info.run_id, path)
                     for task, paths in wanted.items() for path in paths}
        return LatestRun(parent.info.run_id, rid, exp.experiment_id, artifacts)
    return None


def _finished_dag_runs(client: Any, experiment_id: str, n: int) -> list[Any]:
    """The newest ``n`` finished DAG runs' parent MLflow runs, newest first."""
    return client.search_runs([experiment_id], "tags.`platform.role` = 'dag_run' and attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=n)


def _task_run(client: Any, experiment_id: str, airflow_run_id: str, task: str) -> Any | None:
    found = client.search_runs([experiment_id], f"tags.`airflow.run_id` = '{airflow_run_id}' and "
                               f"tags.`airflow.task_id` = '{task}' and attributes.status = 'FINISHED'",
                               max_results=1)
    return found[0] if found else None


BUDGET = {"allocate": ("plan/plan.parquet",),
          "simulate": ("simulation/daily.parquet", "simulation/thompson_plans.parquet",
                       "simulation/regret_summary.csv"),
          "insights": ("insights/insights.md",)}
MMM = {"curves": ("curves/response_curves.parquet",), "optimise": ("optimise/channel_shares.csv",)}


class BudgetRun(LatestRun):
    """A budget_bandits run: plan, simulated days (per policy, seed and day: conversions, oracle, regret),
    Thompson sampling's plans per seed and day, the regret summary and the insights."""

    plan = property(lambda self: self.artifacts["plan/plan.parquet"])
    daily = property(lambda self: self.artifacts["simulation/daily.parquet"])
    thompson = property(lambda self: self.artifacts["simulation/thompson_plans.parquet"])
    summary = property(lambda self: self.artifacts["simulation/regret_summary.csv"])
    insights = property(lambda self: self.artifacts["insights/insights.md"])


class MmmRun(LatestRun):
    """An mmm run: response curves (national, per brand, per geo, with intervals) and the optimiser's split."""

    curves = property(lambda self: self.artifacts["curves/response_curves.parquet"])
    shares = property(lambda self: self.artifacts["optimise/channel_shares.csv"])


def latest_budget(client: Any) -> BudgetRun | None:
    """The newest finished budget_bandits run."""
    run = latest_run(client, "budget_bandits", BUDGET)
    return None if run is None else BudgetRun(**vars(run))


def latest_mmm(client: Any) -> MmmRun | None:
    """The newest finished mmm run."""
    run = latest_run(client, "mmm", MMM)
    return None if run is None else MmmRun(**vars(run))


@dataclass
class MarketHistory:
    """The last nights of market_nightly: one row per night (headlines with intervals, the regression gate's
    verdict, the report's run), the advertisers per night in the headline scenario and pCTR source, and the
    latest night's learned-vs-scripted bidders and pricing policies."""

    experiment_id: str
    nights: pd.DataFrame
    advertisers: pd.DataFrame
    learned: pd.DataFrame
    pricing: pd.DataFrame


def _finished_tasks(client: Any, experiment_id: str, task: str, n: int) -> dict[str, Any]:
    runs = client.search_runs([experiment_id], f"tags.`airflow.task_id` = '{task}' and attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=n)
    return {r.data.tags.get("airflow.run_id", ""): r for r in runs}


def market_history(client: Any, nights: int = 30) -> MarketHistory | None:
    """The newest ``nights`` finished market_nightly runs (None when there is none)."""
    exp = client.get_experiment_by_name("market_nightly")
    if exp is None:
        return None
    parents = _finished_dag_runs(client, exp.experiment_id, nights)
    if not parents:
        return None
    tasks = {t: _finished_tasks(client, exp.experiment_id, t, 3 * nights) for t in ("compare", "regression_gate",
                                                                                   "report")}
    rows, advertisers = [], []
    for parent in parents:
        rid = parent.data.tags.get("airflow.run_id", "")
        compare, gate, report = (tasks[t].get(rid) for t in ("compare", "regression_gate", "report"))
        if compare is None:
            continue
        m, tags = compare.data.metrics, compare.data.tags
        night = pd.Timestamp(parent.info.start_time, unit="ms", tz="UTC")
        rows.append({"night": night, "airflow_run_id": rid, "run_id": parent.info.run_id,
                     "report_run_id": report.info.run_id if report else "",
                     "regression": gate.data.tags.get("regression", "") if gate else "not run",
                     "scenario": tags.get("headline.scenario", ""), "ctr": tags.get("headline.ctr", ""),
                     **{k.removeprefix("headline."): v for k, v in m.items() if k.startswith("headline.")}})
        adv = artifact(client, compare.info.run_id, "compare/advertisers.csv")
        if len(adv):
            head = adv[(adv["scenario"] == rows[-1]["scenario"]) & (adv["source"] == rows[-1]["ctr"])]
            advertisers.append(head.assign(night=night))
    if not rows:
        return None
    latest = tasks["compare"][rows[0]["airflow_run_id"]].info.run_id
    return MarketHistory(exp.experiment_id, pd.DataFrame(rows).sort_values("night", ignore_index=True),
                         pd.concat(advertisers, ignore_index=True) if advertisers else pd.DataFrame(),
                         artifact(client, latest, "compare/learned_bidders.csv"),
                         artifact(client, latest, "compare/pricing.csv"))


# Each pipeline's report page: the task whose MLflow run holds it, and its artifact path (jobs/pages).
REPORT_PAGES = {"market_nightly": ("report", "report/report.html"), "mmm": ("report", "report/report.html"),
                "banner_bandit_eval": ("evaluate", "ope/report.html"),
                "budget_bandits": ("insights", "insights/report.html"),
                "pricing_models": ("evaluate_and_promote", "report/report.html"),
                "market_rl_training": ("report", "report/report.html"),
                "avazu_ctr": ("evaluate_and_promote", "report/report.html")}


@dataclass
class ReportLink:
    """The newest finished run's report page of a pipeline."""

    pipeline: str
    run_id: str          # the MLflow run of the task that wrote the page
    airflow_run_id: str
    started: pd.Timestamp


def latest_reports(client: Any) -> list[ReportLink]:
    """Per pipeline (in :data:`REPORT_PAGES` order), the newest finished DAG run's report task run."""
    links = []
    for pipeline, (task, _) in REPORT_PAGES.items():
        exp = client.get_experiment_by_name(pipeline)
        if exp is None:
            continue
        for parent in _finished_dag_runs(client, exp.experiment_id, 5):
            rid = parent.data.tags.get("airflow.run_id", "")
            run = _task_run(client, exp.experiment_id, rid, task)
            if run is not None:
                links.append(ReportLink(pipeline, run.info.run_id, rid,
                                        pd.Timestamp(parent.info.start_time, unit="ms", tz="UTC")))
                break
    return links


def report_page(client: Any, run_id: str, pipeline: str | None = None) -> str | None:
    """The report page a task run holds (one of :data:`REPORT_PAGES`; of ``pipeline`` when given), None when the
    run is not such a report task."""
    try:
        run = client.get_run(run_id)
    except Exception:  # noqa: BLE001 - an unknown or malformed id is a 404, whatever the store says
        return None
    name = client.get_experiment(run.info.experiment_id).name
    wanted = REPORT_PAGES.get(name) if pipeline in (None, name) else None
    if wanted is None or run.data.tags.get("airflow.task_id") != wanted[0]:
        return None
    return str(artifact(client, run_id, wanted[1]))
