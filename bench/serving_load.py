"""The online service under load, on loopback: p50/p95/p99 latency and error rate of price, banner and CTR
(batches of 100 rows) at fixed request rates; ``mlflow models serve`` of the same agent_classifier champion
answering the same feature rows, side by side; latency around a model swap; events/s accepted.

``python bench/serving_load.py [--rates 200,500,1000] [--duration 60]``: starts its own Postgres and Redis (as
``make stack`` does), fills a fresh MLflow store with the pipelines' smoke champions, runs the service with two
uvicorn workers, and writes bench/results/serving_load.json. The load is open-loop (a request is sent at its
scheduled time whether or not earlier ones have answered; latency counts from that time, so a stalled server
is not hidden), bounded in count and time, and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import BENCH, write_result

REPO = BENCH.parent
sys.path.insert(0, str(REPO))
KEY = "bench-key"


async def open_loop(url: str, rate: float, duration: float, request: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Send ``rate`` requests/s for ``duration`` s (request(i) -> (method, path, body)); latency percentiles."""
    import aiohttp

    n = int(rate * duration)
    lat = np.full(n, np.nan)
    status = np.zeros(n, dtype=int)
    conn = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(url, connector=conn, headers={"X-API-Key": KEY},
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        t0 = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            method, path, body = request(i)
            try:
                async with http.request(method, path, data=body,
                                        headers={"Content-Type": "application/json"} if body else None) as resp:
                    await resp.read()
                    status[i] = resp.status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status[i] = -1
            lat[i] = time.perf_counter() - (t0 + i / rate)

        tasks = []
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    ok = status == 200
    ms = lat * 1000
    return {"rate": rate, "duration_s": duration, "requests": n, "error_rate": float(1 - ok.mean()),
            "p50_ms": float(np.nanpercentile(ms, 50)), "p95_ms": float(np.nanpercentile(ms, 95)),
            "p99_ms": float(np.nanpercentile(ms, 99)), "max_ms": float(np.nanmax(ms)),
            "latencies_ms": ms}


def summary(r: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items() if k != "latencies_ms"}


def settle(url: str, timeout: float = 120) -> None:
    """Wait until ``url`` answers quickly five times in a row: an overloaded run leaves a backlog of requests
    its client gave up on, which the next run must not inherit."""
    import requests

    t0, fast = time.monotonic(), 0
    while fast < 5 and time.monotonic() - t0 < timeout:
        t = time.perf_counter()
        try:
            requests.get(url, timeout=30)
            fast = fast + 1 if time.perf_counter() - t < 0.02 else 0
        except requests.RequestException:
            fast = 0
        time.sleep(0.2)


def run_pipelines(env: dict[str, str]) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "jobs", p, "--profile", "smoke"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT) for p in ("pricing_models",
                                                                                              "avazu_ctr")]
    for p in procs:
        assert p.wait() == 0, "a pipeline failed"


def wait_http(url: str, timeout: float = 180) -> None:
    import requests

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise SystemExit(f"{url} did not answer in {timeout} s")


def main() -> None:
    import pandas as pd
    import requests

    from models.pricing.session_features import FEATURES
    from models.pricing.synth import ClickstreamSpec, generate
    from serving.simulate import Client
    from stack.subset import free_port, running

    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="200,500,1000")
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    root = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    out: dict[str, Any] = {"host": f"{os.cpu_count()} cores; load generator, two uvicorn workers, Postgres and "
                                   f"Redis share them", "rates": rates, "duration_s": args.duration}
    with running(("postgres", "redis")) as stack:
        port, mport = free_port(), free_port()
        env = {**os.environ, "PLATFORM_MLFLOW_DIR": str(root / "mlflow"), "PLATFORM_DATA_DIR": str(root / "data"),
               "SERVING_REDIS_URL": stack["SERVING_REDIS_URL"], "SERVING_DATABASE_URL": stack["SERVING_DATABASE_URL"],
               "SERVING_PORT": str(port), "SERVING_STATE_DIR": str(root / "serving"), "SERVING_API_KEY": KEY,
               "SERVING_WORKERS": "2", "PYTHONPATH": str(REPO)}
        env.pop("MLFLOW_TRACKING_URI", None)
        print("champions: pricing_models and avazu_ctr (smoke)", flush=True)
        run_pipelines(env)
        service = subprocess.Popen([sys.executable, "-m", "serving"], cwd=REPO, env=env,
                                   stdout=open(root / "serving.log", "w"), stderr=subprocess.STDOUT)
        tracking = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
        venv_bin = Path(sys.executable).parent
        baseline = subprocess.Popen([str(venv_bin / "mlflow"), "models", "serve", "-m",
                                     "models:/agent_classifier@champion", "--env-manager", "local",
                                     "--host", "127.0.0.1", "-p", str(mport), "-w", "2"], cwd=REPO,
                                    # it execs uvicorn from PATH
                                    env={**env, "MLFLOW_TRACKING_URI": tracking, "PATH": f"{venv_bin}:{env['PATH']}"},
                                    stdout=open(root / "mlflow_serve.log", "w"), stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/readyz")
            wait_http(f"http://127.0.0.1:{mport}/ping")
            client = Client(base, KEY)
            events = pd.concat([ev for ev, _, _ in generate(ClickstreamSpec(n_sessions=2000, seed=3))],
                               ignore_index=True)
            records = json.loads(events.to_json(orient="records"))
            t0 = time.perf_counter()
            for i in range(0, len(records), 1000):
                client.call("POST", "/v1/events", json={"events": records[i:i + 1000]})
            out["events_per_s"] = round(len(records) / (time.perf_counter() - t0), 1)
            out["events_posted"] = len(records)
            sids = events["sessionId"].unique()
            pids = np.random.default_rng(0).integers(0, 2000, len(sids))
            feats = [client.call("GET", f"/v1/sessions/{s}/features")["features"] for s in sids[:500]]
            rows_json = [json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[f[c] for c in FEATURES]]}})
                         for f in feats]
            ctr_rows = pd.read_csv(REPO.parent / "shared" / "data" / "avazu" / "train_head.csv", nrows=100)
            ctr_body = json.dumps({"rows": ctr_rows.to_dict("records")})
            endpoints = {
                "price": (base, lambda i: ("GET", f"/v1/price/{pids[i % len(sids)]}?session_id={sids[i % len(sids)]}",
                                           None)),
                "banner": (base, lambda i: ("GET", f"/v1/banner?platform=web&slot={1 + i % 2}&location=home", None)),
                "ctr_batch100": (base, lambda i: ("POST", "/v1/ctr", ctr_body)),
                "mlflow_models_serve_agent_classifier": (
                    f"http://127.0.0.1:{mport}", lambda i: ("POST", "/invocations", rows_json[i % len(rows_json)])),
            }
            out["load"] = []
            for name, (url, req) in endpoints.items():
                for rate in rates:
                    settle(url + ("/healthz" if url == base else "/ping"))
                    r = asyncio.run(open_loop(url, rate, args.duration, req))
                    out["load"].append({"endpoint": name, **summary(r)})
                    print(out["load"][-1], flush=True)
            settle(base + "/healthz")
            out["swap"] = swap_under_load(base, env, endpoints["price"][1], min(rates[1:] or rates))
            print(out["swap"], flush=True)
            text = requests.get(base + "/metrics", timeout=30).text
            out["metrics_swaps"] = [line for line in text.splitlines() if line.startswith("serving_model_swaps_total")]
        finally:
            for p in (service, baseline):
                p.terminate()
                p.wait(30)
    path = write_result("serving_load", out)
    print(f"wrote {path}")


def swap_under_load(base: str, env: dict[str, str], request: Any, rate: float) -> dict[str, Any]:
    """Price load for 20 s with a new champion pair published at 10 s; latency around the swap vs the rest."""
    import threading

    import mlflow
    import requests

    os.environ.update({k: env[k] for k in ("PLATFORM_MLFLOW_DIR",)})
    from jobs.tracking import mlflow_setup

    mlflow_setup("serving-bench")
    client = mlflow.MlflowClient()

    def publish() -> None:
        time.sleep(10)
        for name in ("agent_classifier", "pricing_rules"):
            mv = client.get_model_version_by_alias(name, "champion")
            new = client.create_model_version(name, mv.source, run_id=mv.run_id).version
            client.set_registered_model_alias(name, "champion", new)
        requests.post(base + "/v1/admin/reload", headers={"X-API-Key": KEY}, timeout=60)

    t = threading.Thread(target=publish)
    t.start()
    r = asyncio.run(open_loop(base, rate, 20.0, request))
    t.join()
    ms = r["latencies_ms"]
    sched = np.arange(len(ms)) / rate
    near = (sched > 9.5) & (sched < 13.0)
    return {**summary(r), "p99_ms_around_swap": float(np.nanpercentile(ms[near], 99)),
            "p99_ms_elsewhere": float(np.nanpercentile(ms[~near], 99))}


if __name__ == "__main__":
    main()
