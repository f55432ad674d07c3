"""The dashboards inside the Airflow UI (after test_stack.py, whose runs fill MLflow), in a real headless
Chromium (Debian's package, driven by Playwright): sign in as a user does, open each page from the UI's
navigation, check that the charts rendered the data MLflow holds and that no page logged a console error, and
press "Run optimisation" until a new budget_bandits plan is shown. A screenshot of every page is kept in
.test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import ensure_chromium
from tests.conftest import REPO
from tests.integration.test_stack import api, mlflow_client

pytestmark = pytest.mark.slow
SHOTS = REPO / ".test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def ui(stack: dict[str, Any]) -> Iterator[Any]:
    """A signed-in browser page on the stack's Airflow UI, and the console errors it has logged."""
    from playwright.sync_api import sync_playwright

    s = stack["settings"]
    base = f"http://{s['STACK_HOST']}:{s['STACK_AIRFLOW_PORT']}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_chromium(), args=["--no-sandbox"])
        # The MLflow server asks for basic auth (the links the UI opens go there); Airflow uses its own sign-in.
        context = browser.new_context(viewport={"width": 1400, "height": 900}, http_credentials={
            "username": stack["env"]["MLFLOW_TRACKING_USERNAME"], "password": stack["env"]["MLFLOW_TRACKING_PASSWORD"]})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        page.goto(base + "/")
        page.fill("input[name=username]", s["AIRFLOW_ADMIN_USER"])
        page.fill("input[name=password]", s["AIRFLOW_ADMIN_PASSWORD"])
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)
        page.wait_for_load_state("networkidle")
        errors.clear()  # the sign-in page's own API calls answer 401 before the user has signed in
        yield {"page": page, "base": base, "errors": errors}
        browser.close()


def chart_traces(frame: Any, div_id: str) -> int:
    return frame.evaluate(f"document.getElementById('{div_id}').data.length")


def test_the_nav_entry_opens_the_dashboards_inside_the_airflow_ui(ui: dict[str, Any]) -> None:
    page = ui["page"]
    page.goto(ui["base"] + "/")
    page.get_by_text("Plugins", exact=True).click()  # the navigation groups plugin entries in one menu
    page.get_by_role("menuitem", name="Dashboards").click()
    page.wait_for_url("**/plugin/dashboards", timeout=30_000)
    frame = page.frame_locator("iframe").first
    frame.locator("a[href$='/models']").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "dashboards_in_airflow.png"))
    assert not ui["errors"], ui["errors"]


@pytest.fixture(scope="module")
def registered(stack: dict[str, Any]) -> Any:
    """The registry's history, with an mmm champion and its run: test_stack.py's runs (before this module)
    leave them; alone, this runs mmm's smoke profile."""
    import time

    from dashboard.store import latest_mmm, model_history

    client = mlflow_client(stack)
    if latest_mmm(client) is None or "champion" not in set(model_history(client).query("model == 'mmm'")["alias"]):
        airflow = api(stack)
        airflow.wait_for_dag("mmm")
        run_id = airflow.trigger("mmm", f"ui_mmm_{time.strftime('%H%M%S')}", {"profile": "smoke",
                                                                               "source": "synthetic"})
        assert airflow.wait([("mmm", run_id)], timeout_s=900)[("mmm", run_id)] == "success"
    return model_history(client)


def test_models_page_shows_every_registered_version_from_mlflow(registered: Any, ui: dict[str, Any]) -> None:
    page = ui["page"]
    page.goto(ui["base"] + "/dashboard/models")
    history = registered
    for name, h in history.groupby("model"):
        section = page.locator(f"section[data-model='{name}']")
        assert section.locator("tr.version").count() == len(h), name
        assert chart_traces(page, f"chart-{name}") >= 1, name
        champion = h[h["alias"] == "champion"]
        for row in champion.itertuples():
            cells = section.locator(f"tr.version[data-version='{row.version}']")
            assert cells.locator("td.alias").inner_text() == "champion"
            assert cells.locator("td.score").inner_text() == f"{row.score:.4f}"
    page.screenshot(path=str(SHOTS / "models.png"), full_page=True)
    assert not ui["errors"], ui["errors"]


def test_run_optimisation_triggers_budget_bandits_and_shows_its_plan(stack: dict[str, Any], ui: dict[str, Any]) -> None:
    from dashboard.store import latest_budget

    api(stack).wait_for_dag("budget_bandits")  # parsed and unpaused, as a user's would be
    page = ui["page"]
    page.goto(ui["base"] + "/dashboard/budget")
    page.select_option("#profile", "smoke")
    page.click("#run-optimisation")
    page.wait_for_function("document.getElementById('progress').textContent.includes('dashboard__')",
                           timeout=30_000)
    run_id = page.locator("#progress").inner_text().split()[1].rstrip(":")
    page.wait_for_function(f"document.getElementById('run-link') && "
                           f"document.getElementById('run-link').textContent === '{run_id}'", timeout=600_000)
    view = latest_budget(mlflow_client(stack))
    assert view is not None and view.airflow_run_id == run_id
    assert page.locator("#segments").inner_text() == str(len(view.plan))
    assert page.locator("#expected-conv").inner_text() == f"{view.plan['expected_conv'].sum():.1f}"
    assert chart_traces(page, "chart-plan") == 2
    assert chart_traces(page, "chart-shares") == view.plan["segment_key"].nunique()
    assert chart_traces(page, "chart-regret") == view.daily["policy"].nunique()
    assert chart_traces(page, "chart-conversions") == view.daily["policy"].nunique() + 1  # and the oracle
    assert page.locator("#regret tr").count() == len(view.summary) + 1
    page.screenshot(path=str(SHOTS / "budget.png"), full_page=True)
    assert not ui["errors"], ui["errors"]


def test_mmm_page_draws_the_curves_and_a_slider_asks_the_champion(stack: dict[str, Any], registered: Any,
                                                                 ui: dict[str, Any]) -> None:
    import mlflow
    import pandas as pd

    from dashboard.store import latest_mmm

    view = latest_mmm(mlflow_client(stack))
    page = ui["page"]
    page.goto(ui["base"] + "/dashboard/mmm")
    for level in view.curves["level"].unique():
        groups = view.curves[view.curves["level"] == level]
        per_group = groups.groupby("group")["channel"].nunique()
        assert chart_traces(page, f"chart-curves-{level.lower()}") == 2 * int(per_group.sum()), level
    assert chart_traces(page, "chart-shares") == 2
    channel = page.locator("input.whatif").first.get_attribute("data-channel")
    page.locator(f"input.whatif[data-channel='{channel}']").fill("150")
    page.wait_for_function("document.getElementById('whatif-result').dataset.delta !== undefined",
                           timeout=60_000)
    shown = float(page.locator("#whatif-result").get_attribute("data-delta"))
    mlflow.set_tracking_uri(stack["env"]["MLFLOW_TRACKING_URI"])
    want = mlflow.pyfunc.load_model("models:/mmm@champion").predict(
        pd.DataFrame([{"scenario": "s", "channel": channel, "scale": 1.5}])).set_index("scenario").loc["s"]
    assert shown == pytest.approx(want["delta_value"], rel=1e-9) and shown > 0
    page.screenshot(path=str(SHOTS / "mmm.png"), full_page=True)
    assert not ui["errors"], ui["errors"]


def test_market_page_charts_every_night_and_opens_its_report(stack: dict[str, Any], ui: dict[str, Any]) -> None:
    import time

    from dashboard.store import market_history

    airflow = api(stack)
    airflow.wait_for_dag("market_nightly")
    run_id = airflow.trigger("market_nightly", f"ui_night_{time.strftime('%H%M%S')}", {"profile": "smoke"})
    assert airflow.wait([("market_nightly", run_id)], timeout_s=900)[("market_nightly", run_id)] == "success"
    h = market_history(mlflow_client(stack))
    page = ui["page"]
    page.goto(ui["base"] + "/dashboard/market")
    assert page.locator("#nights tr.night").count() == len(h.nights)
    assert chart_traces(page, "chart-market-roas") == 2
    for metric in ("roas", "spend", "market_share"):
        assert chart_traces(page, f"chart-adv-{metric}") == h.advertisers["advertiser"].nunique(), metric
    assert chart_traces(page, "chart-pricing") == h.pricing["policy"].nunique()
    page.screenshot(path=str(SHOTS / "market.png"), full_page=True)
    with page.context.expect_page() as opened:
        page.locator("#nights tr.night a.report").first.click()
    report = opened.value
    report.wait_for_load_state()
    assert report.locator("img").count() >= 1 and report.locator("#headline li").count() >= 3
    report.close()
    # Every pipeline that has finished a run on the stack lists its newest report page.
    page.goto(ui["base"] + "/dashboard/reports")
    listed = page.locator("a.report-link")
    assert listed.count() >= 1
    with page.context.expect_page() as opened:
        listed.first.click()
    report = opened.value
    report.wait_for_load_state()
    assert report.locator("#headline li").count() >= 3
    report.close()
    assert not ui["errors"], ui["errors"]


def test_trigger_form_of_every_dag_renders_its_params(stack: dict[str, Any], ui: dict[str, Any]) -> None:
    airflow = api(stack)
    page = ui["page"]
    dags = [d["dag_id"] for d in airflow.call("GET", "/dags?limit=100")["dags"]]
    assert len(dags) >= 7, dags
    for dag_id in dags:
        params = airflow.call("GET", f"/dags/{dag_id}/details")["params"]
        page.goto(f"{ui['base']}/dags/{dag_id}")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Run Parameters").wait_for(timeout=30_000)
        # Each Param is a labelled field: an input named element_<key>, or a JSON editor for an object Param.
        labels = set(dialog.locator("label").all_inner_texts())
        missing = [k for k, p in params.items() if dialog.locator(f"[name='element_{k}']").count() == 0
                   and p["schema"].get("title", k) not in labels]
        assert params and not missing, (dag_id, missing)
        page.screenshot(path=str(SHOTS / f"trigger_{dag_id}.png"))
        page.keyboard.press("Escape")
    assert not ui["errors"], ui["errors"]


def test_a_tasks_mlflow_run_link_opens_its_run(stack: dict[str, Any], ui: dict[str, Any]) -> None:
    airflow = api(stack)
    run = airflow.call("GET", "/dags/budget_bandits/dagRuns?state=success&order_by=-end_date&limit=1")["dag_runs"]
    assert run, "no finished budget_bandits run (test_run_optimisation... makes one)"
    run_id = run[0]["dag_run_id"]
    exp = mlflow_client(stack).get_experiment_by_name("budget_bandits")
    want = mlflow_client(stack).search_runs([exp.experiment_id], f"tags.`airflow.run_id` = '{run_id}' and "
                                            "tags.`airflow.task_id` = 'allocate' and attributes.status = 'FINISHED'")
    assert len(want) == 1
    page = ui["page"]
    page.goto(f"{ui['base']}/dags/budget_bandits/runs/{run_id}/tasks/allocate")
    page.get_by_text("Details", exact=True).click()
    link = page.get_by_role("link", name="MLflow run")
    assert link.get_attribute("href").endswith(f"/experiments/{exp.experiment_id}/runs/{want[0].info.run_id}")
    with page.context.expect_page() as opened:
        link.click()
    mlflow_page = opened.value
    mlflow_page.wait_for_function(f"document.body.innerText.includes('{want[0].info.run_id}')", timeout=60_000)
    mlflow_page.screenshot(path=str(SHOTS / "mlflow_run_from_airflow.png"))
    mlflow_page.close()
