"""How fast the dashboards load with a store holding 50 runs per pipeline (target: under 2 s a page).

``python bench/dashboard_pages.py [--runs 50] [--loads 5]``: a fresh MLflow store (SQLite, as `make ui` runs it)
gets one real smoke run of budget_bandits, mmm and market_nightly and ``runs - 1`` copies of their runs and
artifacts, and ``runs`` registered versions of each model the pipelines register; the dashboards' app is
served on loopback (uvicorn, Airflow's sign-in left out: it is checked by tests/integration/test_ui.py) and
each page is loaded ``loads`` times in headless Chromium, timed from navigation until every chart has been
drawn; then an MMM slider is moved twice, timed until the champion's answer is shown."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import write_result

MODELS = {"ctr_lightgbm": ("avazu_ctr", "oracle_auc"), "agent_classifier": ("pricing_models", "oracle_auc"),
          "pricing_multitask": ("pricing_models", "oracle_purchase_auc"), "pricing_rules": ("pricing_models", None),
          "mmm": ("mmm", None), "bidder_conservative": ("market_rl_training", None)}


# The pipelines whose pages read their latest run: (task, the artifact folder it logs) of each.
COPIED = {"budget_bandits": (("allocate", "plan"), ("simulate", "simulation"), ("insights", "insights")),
          "mmm": (("curves", "curves"), ("optimise", "optimise")),
          "market_nightly": (("compare", "compare"), ("regression_gate", None), ("report", "report"))}


def fill_store(runs: int) -> None:
    """For each pipeline of :data:`COPIED` one real smoke run and copies of its runs and artifacts up to
    ``runs``; ``runs`` versions of each model of :data:`MODELS` (after mmm's own)."""
    from dashboard.app import mlflow_client
    from jobs.paths import data_root
    from jobs.runner import run_pipeline

    client = mlflow_client()
    for pipeline, tasks in COPIED.items():
        run_pipeline(pipeline, "smoke", {}, "bench_0")
        exp = client.get_experiment_by_name(pipeline).experiment_id
        folder = data_root() / pipeline / "runs" / "bench_0"
        originals = {task: client.search_runs([exp], f"tags.`airflow.task_id` = '{task}'")[0] for task, _ in tasks}
        for i in range(1, runs):
            rid = f"bench_{i}"
            parent = client.create_run(exp, tags={"platform.role": "dag_run", "airflow.run_id": rid})
            for task, d in tasks:
                run = client.create_run(exp, tags={"platform.role": "task", "airflow.run_id": rid,
                                                   "airflow.task_id": task, "mlflow.parentRunId": parent.info.run_id})
                if d:
                    client.log_artifacts(run.info.run_id, str(folder / d), d)
                for key, value in originals[task].data.metrics.items():  # the headlines the pages plot
                    client.log_metric(run.info.run_id, key, value)
                for key, value in originals[task].data.tags.items():
                    if not key.startswith(("mlflow.", "airflow.", "platform.")):
                        client.set_tag(run.info.run_id, key, value)
                client.set_terminated(run.info.run_id)
            client.set_terminated(parent.info.run_id)
    for name, (experiment, oracle) in MODELS.items():
        e = client.get_experiment_by_name(experiment)
        eid = e.experiment_id if e else client.create_experiment(experiment)
        if name != "mmm":
            client.create_registered_model(name)
        for v in range(runs - (name == "mmm")):  # mmm's smoke run registered one
            run = client.create_run(eid)
            if oracle:
                client.log_metric(run.info.run_id, oracle, 0.8)
            client.set_terminated(run.info.run_id)
            client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id,
                                        tags={"score": f"{0.7 + v / 1000:.6f}"})
        if name != "mmm":  # its champion stays the real model, which the what-if loads
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


def time_pages(base: str, loads: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/static/plotly.js")  # cached from here on, as in a user's browser after the first page
        for name, charts in (("models", len(MODELS)), ("budget", 4), ("market", 5), ("mmm", 4)):
            seconds = []
            for _ in range(loads):
                t0 = time.perf_counter()
                page.goto(f"{base}/{name}")
                page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length == {charts}")
                seconds.append(time.perf_counter() - t0)
            out[name] = {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
                         "charts": charts}
            if name == "mmm":  # a slider's answer from mmm@champion, timed from the move
                t0 = time.perf_counter()
                page.locator("input.whatif").first.fill("150")
                page.wait_for_function("document.getElementById('whatif-result').dataset.delta !== undefined")
                out["mmm_whatif_first_s"] = round(time.perf_counter() - t0, 3)  # loads the model
                t0 = time.perf_counter()
                page.locator("input.whatif").first.fill("50")
                page.wait_for_function("Number(document.getElementById('whatif-result').dataset.delta) < 0")
                out["mmm_whatif_s"] = round(time.perf_counter() - t0, 3)  # includes the 250 ms debounce
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
