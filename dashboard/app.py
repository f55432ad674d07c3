"""The dashboards' FastAPI app (mounted by plugins/dashboards.py at ``/dashboard`` in Airflow's API server).

Every page needs the Airflow UI's session: the same cookie (``_token``) that the UI's own API calls carry, checked
by Airflow's own dependency. "Run optimisation" triggers ``budget_bandits`` through Airflow's REST API with that
token, so the user's permissions apply and the run shows under their name."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import requests
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard import charts, store
from dashboard.links import run_address
from jobs.config import PROFILES

BUDGET_DAG = "budget_bandits"
PAGES = (("models", "Models"), ("budget", "Budget"), ("market", "Market"), ("mmm", "MMM"))
templates = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                        autoescape=select_autoescape(["html"]))


def airflow_user() -> Any:
    """Airflow's dependency that resolves the UI session's user (401 without a valid token)."""
    from airflow.api_fastapi.core_api.security import get_user

    return get_user


def mlflow_client() -> Any:
    """The pipelines' store: ``MLFLOW_TRACKING_URI``, else the local one they write to."""
    import mlflow

    from jobs.tracking import mlflow_tracking_uri

    return mlflow.MlflowClient(mlflow_tracking_uri())


@functools.cache
def plotly_js() -> str:
    import plotly.offline

    return plotly.offline.get_plotlyjs()


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    body = templates.get_template(f"{name}.html").render(root=root, pages=PAGES, current=name, **context)
    return HTMLResponse(body)


def figure_html(fig: Any, div_id: str) -> str:
    """A figure as a div (plotly.js comes from the page's own script tag)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})


def _airflow(request: Request, method: str, path: str, **kw: Any) -> Any:
    """``method /api/v2<path>`` on the Airflow API server that serves this app, as the signed-in user."""
    token = request.cookies.get("_token") or request.headers.get("authorization", "").removeprefix("Bearer ")
    base = f"{request.url.scheme}://{request.url.netloc}"
    res = requests.request(method, f"{base}/api/v2{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                           **kw)
    if res.status_code >= 400:
        raise HTTPException(res.status_code, f"Airflow said {res.status_code} to {method} {path}: {res.text[:300]}")
    return res.json() if res.content else None


def create_app() -> FastAPI:
    """The app with its routes; every route needs the Airflow UI's signed-in user."""
    app = FastAPI(title="Dashboards", dependencies=[Depends(airflow_user())])

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return page(request, "index")

    @app.get("/static/plotly.js")
    def plotly() -> Response:
        return Response(plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/models", response_class=HTMLResponse)
    def models(request: Request) -> HTMLResponse:
        t0 = time.perf_counter()
        history = store.model_history(mlflow_client())
        sections = []
        for name, h in history.groupby("model", sort=True):
            measure, _ = store.score_meaning(str(name))
            truth_label = store.VS_TRUTH.get(str(name), ("",))[0]
            rows = [{**r, "run_url": run_address(r["experiment_id"], r["run_id"]) if r["run_id"] else ""}
                    for r in h.sort_values("version", ascending=False).to_dict("records")]
            sections.append({"name": name, "measure": measure, "rows": rows, "truth_label": truth_label,
                             "chart": figure_html(charts.model_versions(history, str(name), measure),
                                                  f"chart-{name}")})
        return page(request, "models", sections=sections, seconds=time.perf_counter() - t0)

    @app.get("/budget", response_class=HTMLResponse)
    def budget(request: Request) -> HTMLResponse:
        t0 = time.perf_counter()
        view = store.latest_budget(mlflow_client())
        charts_html = []
        if view is not None:
            charts_html = [figure_html(charts.budget_plan(view.plan), "chart-plan"),
                           figure_html(charts.budget_shares(view.thompson), "chart-shares"),
                           figure_html(charts.budget_conversions(view.daily), "chart-conversions"),
                           figure_html(charts.budget_regret(view.daily), "chart-regret")]
        return page(request, "budget", view=view, profiles=PROFILES, charts=charts_html,
                    run_url=run_address(view.experiment_id, view.run_id) if view else "",
                    insights=view.insights if view else "", seconds=time.perf_counter() - t0)

    @app.post("/budget/run")
    def run_budget(request: Request, profile: str = "demo") -> JSONResponse:
        if profile not in PROFILES:
            raise HTTPException(422, f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
        dag = _airflow(request, "GET", f"/dags/{BUDGET_DAG}")
        run_id = f"dashboard__{time.strftime('%Y-%m-%dT%H-%M-%S')}"
        _airflow(request, "POST", f"/dags/{BUDGET_DAG}/dagRuns",
                 json={"dag_run_id": run_id, "logical_date": None, "conf": {"profile": profile}})
        return JSONResponse({"run_id": run_id, "paused": bool(dag.get("is_paused"))})

    @app.get("/budget/run/{run_id}")
    def run_state(request: Request, run_id: str) -> JSONResponse:
        run = _airflow(request, "GET", f"/dags/{BUDGET_DAG}/dagRuns/{run_id}")
        tis = _airflow(request, "GET", f"/dags/{BUDGET_DAG}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return JSONResponse({"state": run["state"],
                             "tasks": [{"task_id": t["task_id"], "state": t["state"]} for t in tis]})

    @app.get("/market", response_class=HTMLResponse)
    def market(request: Request) -> HTMLResponse:
        t0 = time.perf_counter()
        h = store.market_history(mlflow_client())
        charts_html = []
        if h is not None:
            charts_html.append(figure_html(charts.market_headline(h.nights), "chart-market-roas"))
            if len(h.advertisers):
                charts_html += [figure_html(charts.market_advertisers(h.advertisers, m, t), f"chart-adv-{m}")
                                for m, t in (("roas", "ROAS per advertiser"), ("spend", "Spend per advertiser"),
                                             ("market_share", "Market share per advertiser"))]
            if len(h.learned):
                charts_html.append(figure_html(charts.market_learned(h.learned), "chart-learned"))
            charts_html.append(figure_html(charts.market_pricing(h.pricing), "chart-pricing"))
        return page(request, "market", history=h, charts=charts_html,
                    nights=[] if h is None else h.nights.iloc[::-1].to_dict("records"),
                    seconds=time.perf_counter() - t0)

    @app.get("/reports", response_class=HTMLResponse)
    def reports(request: Request) -> HTMLResponse:
        """The newest report page of every pipeline."""
        return page(request, "reports", links=store.latest_reports(mlflow_client()))

    @app.get("/report/{run_id}", response_class=HTMLResponse)
    def report(run_id: str) -> HTMLResponse:
        """A pipeline's report page (self-contained: plots inline) from the task run that wrote it."""
        html = store.report_page(mlflow_client(), run_id)
        if html is None:
            raise HTTPException(404, f"run {run_id!r} holds no report page")
        return HTMLResponse(html)

    @app.get("/market/report/{run_id}", response_class=HTMLResponse)
    def market_report(run_id: str) -> HTMLResponse:
        """A night's report page: only a market_nightly report run."""
        html = store.report_page(mlflow_client(), run_id, "market_nightly")
        if html is None:
            raise HTTPException(404, f"run {run_id!r} is not a market_nightly report")
        return HTMLResponse(html)

    @app.get("/mmm", response_class=HTMLResponse)
    def mmm(request: Request) -> HTMLResponse:
        t0 = time.perf_counter()
        view = store.latest_mmm(mlflow_client())
        charts_html, channels = [], []
        if view is not None:
            levels = list(dict.fromkeys(view.curves["level"]))
            charts_html = [figure_html(charts.mmm_curves(view.curves, lv), f"chart-curves-{lv.lower()}")
                           for lv in levels] + [figure_html(charts.mmm_shares(view.shares), "chart-shares")]
            channels = list(dict.fromkeys(view.curves.loc[view.curves["level"] == "national", "channel"]))
        return page(request, "mmm", view=view, charts=charts_html, channels=channels,
                    run_url=run_address(view.experiment_id, view.run_id) if view else "",
                    seconds=time.perf_counter() - t0)

    @app.post("/mmm/whatif")
    def mmm_whatif(scales: dict[str, float], interval: float = 0.9) -> JSONResponse:
        """``mmm@champion`` on one plan: each channel's spend scaled (1 = today's); the value change against
        today with its interval."""
        if not scales:
            raise HTTPException(422, "move at least one channel: an empty plan is today's, with no change")
        bad = {ch: v for ch, v in scales.items() if not (v >= 0 and v < float("inf"))}
        if bad or not 0 < interval < 1:
            raise HTTPException(422, f"scales must be finite and >= 0 (got {bad}) and 0 < interval < 1 "
                                     f"(got {interval})")
        version, model = champion_mmm()
        import pandas as pd

        plan = pd.DataFrame([{"scenario": "what-if", "channel": ch, "scale": float(v)} for ch, v in scales.items()])
        try:
            out = model.predict(plan, params={"interval": interval}).set_index("scenario")
        except Exception as exc:  # an unknown channel, named by the model's own check
            raise HTTPException(422, f"mmm v{version} refused the plan: {exc}") from exc
        row = out.loc["what-if"] if "what-if" in out.index else out.loc["current"]
        return JSONResponse({"version": version, "interval": interval,
                             **{k: float(row[k]) for k in ("value", "delta_value", "delta_value_lo",
                                                           "delta_value_hi", "spend")}})

    return app


_models: dict[str, Any] = {}


def champion_mmm() -> tuple[str, Any]:
    """(version, loaded pyfunc) of ``mmm@champion``, loaded once per version."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from jobs.tracking import mlflow_tracking_uri

    try:
        version = mlflow_client().get_model_version_by_alias("mmm", "champion").version
    except MlflowException as exc:
        raise HTTPException(404, "no mmm@champion yet: run the mmm DAG") from exc
    if version not in _models:
        _models.clear()
        mlflow.set_tracking_uri(mlflow_tracking_uri())  # models:/ resolves against the global store
        _models[version] = mlflow.pyfunc.load_model(f"models:/mmm/{version}")
    return version, _models[version]
