"""How fast the dashboards load with a store holding 50 runs per pipeline (target: under 2 s a page).

``python bench/dashboard_pages.py [--runs 50] [--loads 5]``: a fresh MLflow store (SQLite, as `make ui` runs it)
gets one real budget_bandits smoke run and ``runs - 1`` copies of its runs and artifacts, and ``runs`` registered
versions of each model the pipelines register; the dashboards' app is served on loopback (uvicorn, Airflow's
sign-in left out: it is checked by tests/integration/test_ui.py) and each page is loaded ``loads`` times in
headless Chromium, timed from navigation until every chart has been drawn.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import write_result

MODELS = {"ctr_lightgbm": ("avazu_ctr", "oracle_auc"), "agent_classifier": ("pricing_models", "oracle_auc"),
          "pricing_multitask": ("pricing_models", "oracle_purchase_auc"), "pricing_rules": ("pricing_models", None),
          "mmm": ("mmm", None), "bidder_conservative": ("market_rl_training", None)}


def fill_store(runs: int) -> None:
    """One real budget_bandits run, copies of it up to ``runs``, and ``runs`` versions of each model."""
    from dashboard.app import mlflow_client
    from jobs.paths import data_root
    from jobs.runner import run_pipeline

    run_pipeline("budget_bandits", "smoke", {}, "bench_0")
    client = mlflow_client()
    exp = client.get_experiment_by_name("budget_bandits").experiment_id
    folder = data_root() / "budget_bandits" / "runs" / "bench_0"
    for i in range(1, runs):
        rid = f"bench_{i}"
        parent = client.create_run(exp, tags={"platform.role": "dag_run", "airflow.run_id": rid})
        for task, dirs in (("allocate", ["plan"]), ("simulate", ["simulation"]), ("insights", ["insights"])):
            run = client.create_run(exp, tags={"platform.role": "task", "airflow.run_id": rid,
                                               "airflow.task_id": task, "mlflow.parentRunId": parent.info.run_id})
            for d in dirs:
                client.log_artifacts(run.info.run_id, str(folder / d), d)
            client.set_terminated(run.info.run_id)
        client.set_terminated(parent.info.run_id)
    for name, (experiment, oracle) in MODELS.items():
        e = client.get_experiment_by_name(experiment)
        eid = e.experiment_id if e else client.create_experiment(experiment)
        client.create_registered_model(name)
        for v in range(runs):
            run = client.create_run(eid)
            if oracle:
                client.log_metric(run.info.run_id, oracle, 0.8)
            client.set_terminated(run.info.run_id)
            client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id,
                                        tags={"score": f"{0.7 + v / 1000:.6f}"})
        client.set_registered_model_alias(name, "champion", str(runs))


def serve() -> str:
    """The app on a free loopback port, in this process."""
    import uvicorn
    from airflow.api_fastapi.core_api.security import get_user

    from dashboard.app import create_app

    app = create_app()
    app.dependency_overrides[get_user] = lambda: "bench"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}"


def time_pages(base: str, loads: int) -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/static/plotly.js")  # cached from here on, as in a user's browser after the first page
        for name, charts in (("models", len(MODELS)), ("budget", 3)):
            seconds = []
            for _ in range(loads):
                t0 = time.perf_counter()
                page.goto(f"{base}/{name}")
                page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length == {charts}")
                seconds.append(time.perf_counter() - t0)
            out[name] = {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
                         "charts": charts}
            print(f"{name}: median {out[name]['median_s']} s, max {out[name]['max_s']} s over {loads} loads")
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(PLATFORM_DATA_DIR=str(Path(tmp) / "data"), PLATFORM_MLFLOW_DIR=str(Path(tmp) / "mlflow"),
                          MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false")
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        t0 = time.perf_counter()
        fill_store(args.runs)
        print(f"store filled in {time.perf_counter() - t0:.0f} s")
        pages = time_pages(serve(), args.loads)
    write_result("dashboard_pages", {"runs_per_pipeline": args.runs, "models": len(MODELS),
                                     "versions_per_model": args.runs, "loads": args.loads, "pages": pages,
                                     "target_s": 2.0})


if __name__ == "__main__":
    main()
