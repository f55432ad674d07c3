"""The dashboards' pages rendered from a real MLflow store (the browser tests of the same pages, inside the
Airflow UI, are in tests/integration/test_ui.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient


def client_for(app: Any) -> TestClient:
    """The app without Airflow's sign-in (its dependency is Airflow's own, checked in the browser tests)."""
    from airflow.api_fastapi.core_api.security import get_user

    app.dependency_overrides[get_user] = lambda: "tester"
    return TestClient(app)


def test_models_page_lists_each_version_with_its_score_oracle_and_alias(platform_env: Path) -> None:
    import mlflow

    from dashboard.app import create_app, mlflow_client
    from dashboard.store import model_history

    client = mlflow_client()
    exp = client.create_experiment("avazu_ctr")
    client.create_registered_model("ctr_lightgbm")
    for score, oracle in ((0.71, 0.74), (0.73, 0.74), (0.72, 0.75)):
        run = client.create_run(exp)
        client.set_terminated(run.info.run_id)
        client.create_model_version("ctr_lightgbm", f"{run.info.artifact_uri}/model", run.info.run_id,
                                    tags={"score": f"{score:.6f}", "oracle_auc": f"{oracle:.6f}"})
    client.set_registered_model_alias("ctr_lightgbm", "champion", "2")
    client.set_registered_model_alias("ctr_lightgbm", "challenger", "3")
    history = model_history(client)
    assert history["version"].tolist() == [1, 2, 3]
    assert history["score"].tolist() == [0.71, 0.73, 0.72] and history["oracle"].tolist() == [0.74, 0.74, 0.75]
    assert history["alias"].tolist() == ["", "champion", "challenger"] and (history["experiment_id"] == exp).all()

    body = client_for(create_app()).get("/models").text
    rows = re.findall(r'data-version="(\d)".*?class="score">([\d.]+)</td>.*?class="alias">(\w*)</td>', body, re.S)
    assert rows == [("3", "0.7200", "challenger"), ("2", "0.7300", "champion"), ("1", "0.7100", "")]
    assert body.count("Plotly.newPlot") == 1 and "holdout AUC" in body
    assert mlflow.get_tracking_uri()  # the page did not need an MLflow server


def test_pages_say_when_nothing_has_run_yet(platform_env: Path) -> None:
    from dashboard.app import create_app

    http = client_for(create_app())
    for page in ("/models", "/budget", "/mmm", "/reports"):
        assert 'id="empty"' in http.get(page).text, page
    res = http.post("/mmm/whatif", json={"TV": 1.2})
    assert res.status_code == 404 and "no mmm@champion yet" in res.text


@pytest.mark.slow  # a budget_bandits run
def test_budget_page_shows_the_latest_finished_run(platform_env: Path) -> None:
    from dashboard.app import create_app, mlflow_client
    from dashboard.store import latest_budget
    from jobs.runner import run_pipeline

    run_pipeline("budget_bandits", "smoke", {}, "dash_1")
    view = latest_budget(mlflow_client())
    assert view is not None and view.airflow_run_id == "dash_1"
    body = client_for(create_app()).get("/budget").text
    assert re.search(r'id="segments">(\d+)<', body).group(1) == str(len(view.plan))
    assert f'id="expected-conv">{view.plan["expected_conv"].sum():.1f}<' in body
    assert body.count("Plotly.newPlot") == 4
    assert view.summary["policy"].tolist() == re.findall(r"<tr><td>(\w+)</td>", body)


def test_run_optimisation_refuses_an_unknown_profile(platform_env: Path) -> None:
    from dashboard.app import create_app

    res = client_for(create_app()).post("/budget/run?profile=huge")
    assert res.status_code == 422 and "smoke, demo, full" in res.text


@pytest.mark.slow  # an mmm run
def test_mmm_page_and_whatif_answer_from_the_champion(platform_env: Path) -> None:
    import mlflow

    from dashboard.app import create_app, mlflow_client
    from dashboard.store import latest_mmm
    from jobs.runner import run_pipeline

    state = run_pipeline("mmm", "smoke", {}, "dash_mmm")
    view = latest_mmm(mlflow_client())
    assert view is not None and view.airflow_run_id == "dash_mmm"
    http = client_for(create_app())
    body = http.get("/mmm").text
    channels = list(dict.fromkeys(view.curves.loc[view.curves["level"] == "national", "channel"]))
    assert re.findall(r'data-channel="([^"]+)"', body) == channels
    assert body.count("Plotly.newPlot") == view.curves["level"].nunique() + 1
    got = http.post("/mmm/whatif", json={channels[0]: 1.5}).json()
    want = mlflow.pyfunc.load_model("models:/mmm@champion").predict(
        pd.DataFrame([{"scenario": "s", "channel": channels[0], "scale": 1.5}])).set_index("scenario").loc["s"]
    assert got["delta_value"] == pytest.approx(want["delta_value"], rel=1e-12) and got["delta_value"] > 0
    assert got["delta_value_lo"] < got["delta_value"] < got["delta_value_hi"]
    models = http.get("/models").text  # the MMM's version shows its ROI error against the simulated truth
    assert re.findall(r'class="truth">([^<]+)<', models) == [f"{state['recovery']['mean_abs_roi_error_pct']:.1f}"]
    for bad, says in (({}, "move at least one channel"), ({channels[0]: -0.5}, "finite and >= 0"),
                      ({"Billboards": 1.2}, "unknown channel 'Billboards'")):
        res = http.post("/mmm/whatif", json=bad)
        assert res.status_code == 422 and says in res.text, (bad, res.text)


@pytest.mark.slow  # a market_nightly run
def test_market_page_shows_each_night_and_serves_its_report(platform_env: Path) -> None:
    from dashboard.app import create_app, mlflow_client
    from dashboard.store import market_history
    from jobs.runner import run_pipeline

    run_pipeline("market_nightly", "smoke", {}, "night_1")
    h = market_history(mlflow_client())
    assert h is not None and h.nights["airflow_run_id"].tolist() == ["night_1"]
    http = client_for(create_app())
    body = http.get("/market").text
    assert re.findall(r'<td class="verdict">([^<]*)</td>', body) == ["no previous night"]
    n_adv = h.advertisers["advertiser"].nunique()
    assert n_adv >= 2 and body.count("Plotly.newPlot") == 5 + (len(h.learned) > 0)
    roas = h.nights["market_roas"].iloc[0]
    assert f"{roas:.3g} [" in body
    report = re.search(r'href="(/market/report/\w+)"', body).group(1)
    page = http.get(report)
    assert page.status_code == 200 and "<img" in page.text
    other = h.nights["run_id"].iloc[0]  # the DAG run's parent: not a report
    for run_id in (other, "no-such-run"):
        res = http.get(f"/market/report/{run_id}")
        assert res.status_code == 404, run_id
        assert http.get(f"/report/{run_id}").status_code == 404, run_id
    listed = re.findall(r'<td>(\w+)</td><td>night_1</td>.*?href="(/report/\w+)"', http.get("/reports").text, re.S)
    assert [name for name, _ in listed] == ["market_nightly"]
    assert http.get(listed[0][1]).text == page.text  # the same page, from the generic route
