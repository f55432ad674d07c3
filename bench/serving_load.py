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
ENDPOINTS = ("price", "banner", "ctr_batch100", "mlflow_models_serve_agent_classifier")
HEAVY = ("ctr_batch100", "mlflow_models_serve_agent_classifier")


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection answering one request at a time. The load generator shares the
    service's two cores, so it is written against asyncio's transports directly: aiohttp's client spent ~0.7 ms
    of CPU per request, a third of what the service itself needs."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def request(self, raw: bytes) -> asyncio.Future[int]:
        self.waiter = asyncio.get_running_loop().create_future()
        self.buf.clear()
        assert self.transport is not None
        self.transport.write(raw)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None or self.waiter.done():
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        if at < 0:  # chunked or close-delimited: not what the services here send
            self.waiter.set_exception(ConnectionError("response without content-length"))
            return
        length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
        if len(self.buf) >= end + 4 + length:
            self.waiter.set_result(int(head[9:12]))


async def open_loop(url: str, rate: float, duration: float, request: Any, timeout: float = 10.0,
                    max_connections: int = 512) -> dict[str, Any]:
    """Send ``rate`` requests/s for ``duration`` s (request(i) -> (method, path, body)); latency percentiles.
    Latency counts from each request's scheduled time; one that has no answer within ``timeout`` is an error."""
    from urllib.parse import urlsplit

    loop = asyncio.get_running_loop()
    host, port = urlsplit(url).hostname, urlsplit(url).port
    n = int(rate * duration)
    lat = np.full(n, np.nan)
    status = np.zeros(n, dtype=int)
    idle: list[_Conn] = []
    waiting: list[asyncio.Future[_Conn | None]] = []
    opened = [0]
    t0 = time.perf_counter() + 0.2  # uvloop's loop.time() has millisecond resolution

    def release(conn: _Conn | None) -> None:
        if conn is not None and conn.closed:
            opened[0] -= 1
            conn = None
        while waiting:
            w = waiting.pop(0)
            if not w.done():
                w.set_result(conn)  # None: the waiter opens a connection of its own
                return
        if conn is not None:
            idle.append(conn)

    async def one(i: int) -> None:
        method, path, body = request(i)
        payload = body.encode() if body else b""
        raw = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload
        conn: _Conn | None = None
        try:
            async with asyncio.timeout(t0 + i / rate + timeout - time.perf_counter()):
                while idle and conn is None:
                    conn = idle.pop()
                    if conn.closed:  # the server's keep-alive timeout closed it while idle
                        opened[0] -= 1
                        conn = None
                if conn is None and opened[0] >= max_connections:
                    w: asyncio.Future[_Conn | None] = loop.create_future()
                    waiting.append(w)
                    conn = await w
                if conn is None:
                    opened[0] += 1
                    try:
                        _, conn = await loop.create_connection(_Conn, host, port)
                    except BaseException:
                        opened[0] -= 1
                        raise
                status[i] = await conn.request(raw)
        except (OSError, ConnectionError, TimeoutError, RuntimeError):  # RuntimeError: uvloop, closed
            status[i] = -1
            if conn is not None and conn.transport is not None:
                conn.transport.close()
                conn.closed = True
        lat[i] = time.perf_counter() - (t0 + i / rate)
        release(conn)

    tasks = []
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    for c in idle:
        if c.transport is not None and not c.closed:
            c.transport.close()
    ok = status == 200
    ms = lat * 1000
    return {"rate": rate, "duration_s": duration, "requests": n, "error_rate": float(1 - ok.mean()),
            "p50_ms": float(np.nanpercentile(ms, 50)), "p95_ms": float(np.nanpercentile(ms, 95)),
            "p99_ms": float(np.nanpercentile(ms, 99)), "max_ms": float(np.nanmax(ms)),
            "latencies_ms": ms}


def drive(url: str, rate: float, duration: float, request: Any) -> dict[str, Any]:
    """:func:`open_loop` on uvloop (its event loop costs the generator less CPU per request than asyncio's)."""
    import gc

    import uvloop

    gc.collect()
    gc.freeze()  # the generator's own full collections would pause its sending and read as server latency
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(open_loop(url, rate, duration, request))
    finally:
        gc.unfreeze()


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
    parser.add_argument("--heavy-rates", default="25,50,100",
                        help="more rates for CTR batches and mlflow models serve, which saturate below 200/s")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS),
                        help="which to load (a subset writes serving_load_subset.json, not the full result)")
    args = parser.parse_args()
    chosen = args.endpoints.split(",")
    if set(chosen) - set(ENDPOINTS):
        parser.error(f"--endpoints: unknown {sorted(set(chosen) - set(ENDPOINTS))}; known: {', '.join(ENDPOINTS)}")
    rates = [float(r) for r in args.rates.split(",")]
    heavy = sorted({float(r) for r in args.heavy_rates.split(",") if r} | set(rates))
    root = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    out: dict[str, Any] = {"host": f"{os.cpu_count()} cores; load generator, two uvicorn workers, Postgres and "
                                   f"Redis share them", "rates": rates, "heavy_rates": heavy,
                                   "duration_s": args.duration}
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
                if name not in chosen:
                    continue
                for rate in (heavy if name in HEAVY else rates):
                    settle(url + ("/healthz" if url == base else "/ping"))
                    r = drive(url, rate, args.duration, req)
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
    path = write_result("serving_load" if set(chosen) == set(ENDPOINTS) else "serving_load_subset", out)
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
    r = drive(base, rate, 20.0, request)
    t.join()
    ms = r["latencies_ms"]
    sched = np.arange(len(ms)) / rate
    near = (sched > 9.5) & (sched < 13.0)
    return {**summary(r), "p99_ms_around_swap": float(np.nanpercentile(ms[near], 99)),
            "p99_ms_elsewhere": float(np.nanpercentile(ms[~near], 99))}


if __name__ == "__main__":
    main()
