"""The online service end to end: a real uvicorn process (two workers) on real Postgres and Redis (started as
``make stack`` starts them) and a real MLflow registry filled by the real pipelines.

In file order: no champion (503 naming it); the pipelines publish and the running service swaps to their
champions; the endpoint contracts; a swap under load and a version that fails to load; Redis down; Postgres
down; and the loop: simulated traffic -> pricing_models and banner_bandit_eval on what was served -> a new
champion the service swaps to.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from tests.conftest import AVAZU_HEAD, REPO

pytestmark = pytest.mark.slow
KEY = "test-key-0123456789"


@dataclass
class Svc:
    url: str
    env: dict[str, str]
    proc: subprocess.Popen
    log: Path
    stack: dict[str, str]

    def call(self, method: str, path: str, expect: int = 200, key: str | None = KEY, **kw: Any) -> Any:
        headers = {"X-API-Key": key} if key else {}
        resp = requests.request(method, self.url + path, headers=headers, timeout=60, **kw)
        assert resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text[:500]}"
        return resp.json()

    def metric(self, name: str) -> float:
        """The sum of a metric's samples (every label) in /metrics."""
        text = requests.get(self.url + "/metrics", timeout=30).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name) and not line.startswith("#"))


def _sql(svc: Svc, query: str, *params: Any) -> list[tuple]:
    import psycopg

    with psycopg.connect(svc.env["SERVING_DATABASE_URL"]) as conn:
        return conn.execute(query, params).fetchall()


def _service(name: str) -> Any:
    from stack.services import define
    from stack.settings import load

    return next(s for s in define(load()) if s.name == name)


def _bounce(name: str, down: bool) -> None:
    """Stop or start one of the module's own Postgres / Redis."""
    from stack.services import start, stop, wait_healthy

    svc = _service(name)
    if down:
        stop([svc])
    else:
        start(svc)
        wait_healthy([svc], timeout_s=60)


def _wait(pred: Any, timeout: float, what: str) -> None:
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def svc(module_env: Path) -> Iterator[Svc]:
    from stack.__main__ import APT
    from stack.services import pg_bin
    from stack.subset import free_port, running

    if not (pg_bin() and shutil.which("redis-server")) and os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip(f"the service needs Postgres and Redis: sudo sh -c '{APT}'")
    with running(("postgres", "redis")) as stack:
        port = free_port()
        env = {**os.environ, "SERVING_REDIS_URL": stack["SERVING_REDIS_URL"],
               "SERVING_DATABASE_URL": stack["SERVING_DATABASE_URL"], "SERVING_PORT": str(port),
               "SERVING_STATE_DIR": str(module_env / "serving"), "SERVING_API_KEY": KEY, "SERVING_POLL_S": "2",
               "SERVING_WORKERS": "2", "SERVING_URL": f"http://127.0.0.1:{port}",
               "SERVING_BANNER_CONTEXTS": "web/1/home:6;web/2/home:6", "PYTHONPATH": str(REPO)}
        log = module_env / "serving.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "serving"], cwd=REPO, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        s = Svc(f"http://127.0.0.1:{port}", env, proc, log, stack)

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                return requests.get(s.url + "/readyz", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        try:  # stopped however the module ends: a service that never got ready kept respawning its workers
            _wait(ready, 120, f"the service to be ready (log {log})")
            yield s
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:  # the workers too: they are in the service's own session
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _pipeline(svc: Svc, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs", *args], cwd=REPO, env=svc.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, what: str) -> str:
    out = proc.communicate(timeout=900)[0]
    assert proc.returncode == 0, f"{what} failed:\n{out[-4000:]}"
    return out


def _champions() -> dict[str, str]:
    import mlflow

    from jobs.tracking import mlflow_setup

    mlflow_setup("serving-tests")
    client = mlflow.MlflowClient()
    out = {}
    for name in ("agent_classifier", "pricing_rules", "ctr_lightgbm", "banner_policy"):
        try:
            out[name] = str(client.get_model_version_by_alias(name, "champion").version)
        except mlflow.exceptions.MlflowException:
            pass
    return out


def test_without_a_champion_the_service_says_which_model_is_missing(svc: Svc) -> None:
    assert svc.call("GET", "/healthz") == {"status": "ok"}
    ready = svc.call("GET", "/readyz")
    assert ready["models"] == {} and ready["redis"] and ready["postgres"]
    body = svc.call("GET", "/v1/price/3", expect=503, params={"session_id": "s1"})
    assert body["model"] == "agent_classifier" and "no champion" in body["detail"]
    assert svc.call("POST", "/v1/ctr", expect=503, json={"rows": [{"hour": 1}]})["model"] == "ctr_lightgbm"
    assert "X-API-Key" in svc.call("GET", "/v1/price/3", expect=401, key=None, params={"session_id": "s1"})["detail"]
    svc.call("GET", "/v1/price/3", expect=401, key="wrong", params={"session_id": "s1"})


def test_pipelines_publish_champions_and_the_running_service_swaps_to_them(svc: Svc) -> None:
    pid = svc.proc.pid
    # The first champions: a small synthetic pilot (2,000 sessions), which served traffic should improve on.
    procs = [_pipeline(svc, "pricing_models", "--profile", "smoke", "--set", "n_sessions=2000"),
             _pipeline(svc, "avazu_ctr", "--profile", "smoke")]
    outs = [_finish(p, "pipeline") for p in procs]
    assert "serving at" in outs[0] and "swapped" in outs[0]  # the promotion notified the service
    champions = _champions()
    served = svc.call("GET", "/readyz")["models"]
    assert {k: served.get(k) for k in ("agent_classifier", "pricing_rules", "ctr_lightgbm")} == {
        k: champions[k] for k in ("agent_classifier", "pricing_rules", "ctr_lightgbm")}
    assert svc.proc.pid == pid and svc.proc.poll() is None
    assert svc.metric("serving_model_swaps_total") >= 3


def _events(n_sessions: int, seed: int) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Synthetic sessions with ids of their own (``t<seed>-s<i>``: each test's sessions apart)."""
    import json

    from models.pricing.synth import ClickstreamSpec, generate

    events = pd.concat([ev for ev, _, _ in generate(ClickstreamSpec(n_sessions=n_sessions, seed=seed))],
                       ignore_index=True)
    events["sessionId"] = f"t{seed}-" + events["sessionId"]
    return events, json.loads(events.to_json(orient="records"))


def test_events_keep_the_good_name_the_bad_and_online_features_equal_batch(svc: Svc) -> None:
    from tests.session_features_pandas import session_features_pandas

    events, records = _events(200, seed=31)
    shuffled = [records[i] for i in np.random.default_rng(0).permutation(len(records))]  # any arrival order
    for i in range(0, len(shuffled), 1000):
        body = svc.call("POST", "/v1/events", json={"events": shuffled[i:i + 1000]})
        assert body["rejected"] == [] and body["stored"] == "postgres"
    want = session_features_pandas(events).set_index("sessionId")
    for sid in want.index[:60]:
        got = svc.call("GET", f"/v1/sessions/{sid}/features")["features"]
        np.testing.assert_allclose([got[c] for c in want.columns[1:]], want.loc[sid].iloc[1:].to_numpy(float),
                                   rtol=1e-9, atol=1e-9, err_msg=sid)
    sid = want.index[0]
    before = svc.call("GET", f"/v1/sessions/{sid}/features")["features"]
    again = [r for r in records if r["sessionId"] == sid]
    bad = [dict(again[0], price=-3.0), dict(again[0], eventType="teleport"), dict(again[0], scrollDepth="x"),
           {k: v for k, v in again[0].items() if k != "timestamp"}]
    body = svc.call("POST", "/v1/events", json={"events": again + bad})
    assert body["accepted"] == len(again)
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (len(again), "price"), (len(again) + 1, "eventType"), (len(again) + 2, "scrollDepth"),
        (len(again) + 3, "timestamp")]
    assert svc.call("GET", f"/v1/sessions/{sid}/features")["features"] == before  # duplicates count once
    assert svc.call("POST", "/v1/events", expect=422, json={"events": bad})["accepted"] == 0
    stored = _sql(svc, "SELECT count(*) FROM events WHERE session_id = %s", sid)[0][0]
    assert stored == len(again)
    svc.call("GET", "/v1/sessions/nobody/features", expect=404)


def test_price_uses_the_champions_within_floor_and_cap_and_is_logged(svc: Svc) -> None:
    from models.pricing.synth import ClickstreamSpec, products

    catalogue = products(ClickstreamSpec(n_products=2000, seed=42)).set_index("productId")
    served = svc.call("GET", "/readyz")["models"]
    q = svc.call("GET", "/v1/price/17", params={"session_id": "t31-s0"})  # posted by the test before
    assert q["models"] == {k: served[k] for k in ("agent_classifier", "pricing_rules")}
    assert q["list_price"] == catalogue.loc[17, "list_price"] and 0 <= q["p_agent"] <= 1
    assert 0.8 <= q["multiplier"] <= 1.5 and q["price"] == round(q["list_price"] * q["multiplier"], 2)
    assert q["session_events"] > 0 and q["degraded"] is None
    query = "SELECT offer_price, multiplier, versions->>'agent_classifier' FROM quotes WHERE quote_id = %s"
    _wait(lambda: bool(_sql(svc, query, q["quote_id"])), 10, "the quote to be written behind")
    row = _sql(svc, query, q["quote_id"])
    assert row == [(q["price"], q["multiplier"], q["models"]["agent_classifier"])]
    assert "not in the catalogue" in svc.call("GET", "/v1/price/999999", expect=404, params={"session_id": "s0"})[
        "detail"]
    detail = svc.call("GET", "/v1/price/17", expect=422)["detail"]
    assert detail[0]["loc"] == ["query", "session_id"]


def test_banner_propensities_sum_to_one_and_clicks_update_the_posterior(svc: Svc) -> None:
    from serving.banner import POST

    ctx = {"platform": "web", "slot": 1, "location": "home"}
    shown = [svc.call("GET", "/v1/banner", params=ctx) for _ in range(30)]
    for b in shown:
        props = np.array(list(b["propensities"].values()))
        assert len(props) == 6 and abs(props.sum() - 1) < 1e-12 and (props > 0).all()
        assert b["propensity"] == b["propensities"][str(b["creative"])]
    ids = [b["impression_id"] for b in shown]
    _wait(lambda: _sql(svc, "SELECT count(*) FROM impressions WHERE impression_id::text = ANY(%s)", ids)[0][0]
          == len(ids), 10, "the impressions to be written behind")
    logged = dict(_sql(svc, "SELECT impression_id::text, propensity FROM impressions"))
    assert all(logged[b["impression_id"]] == b["propensity"] for b in shown)
    import redis

    r = redis.Redis.from_url(svc.env["SERVING_REDIS_URL"])
    first = shown[0]
    a0 = float(r.hget(POST + "web|1|home", f"{first['creative']}:a"))
    assert svc.call("POST", "/v1/banner/click", json={"impression_id": first["impression_id"]})["status"] == "recorded"
    assert svc.call("POST", "/v1/banner/click", json={"impression_id": first["impression_id"]})["status"] == "duplicate"
    assert float(r.hget(POST + "web|1|home", f"{first['creative']}:a")) == a0 + 1
    assert _sql(svc, "SELECT count(*) FROM clicks WHERE impression_id = %s", first["impression_id"])[0][0] == 1
    svc.call("POST", "/v1/banner/click", expect=404, json={"impression_id": "00000000-0000-4000-8000-000000000000"})
    svc.call("POST", "/v1/banner/click", expect=422, json={"impression_id": "not-an-id"})
    assert "no creatives" in svc.call("GET", "/v1/banner", expect=404,
                                      params={**ctx, "location": "nowhere"})["detail"]


def test_ctr_scores_equal_the_registered_model(svc: Svc) -> None:
    import mlflow.pyfunc

    from jobs.avazu_ctr.ingest import write_synthetic

    if AVAZU_HEAD.exists():
        rows = pd.read_csv(AVAZU_HEAD, nrows=100)
    else:
        from jobs.avazu_ctr.config import load

        rows = pd.read_csv(write_synthetic(load("smoke", {"synthetic_rows": 1000}), Path(svc.env["SERVING_STATE_DIR"]))
                           [0], nrows=100)
    body = svc.call("POST", "/v1/ctr", json={"rows": rows.to_dict("records")})
    _champions()
    from serving.champions import conform

    model = mlflow.pyfunc.load_model("models:/ctr_lightgbm@champion")
    want = model.predict(conform(model, rows))
    np.testing.assert_allclose(body["p_click"], np.asarray(want, dtype=float), rtol=1e-12)
    assert "C1" in svc.call("POST", "/v1/ctr", expect=422, json={"rows": rows.drop(columns="C1").head(3)
                                                                 .to_dict("records")})["detail"]
    assert "banner_pos" in svc.call("POST", "/v1/ctr", expect=422, json={"rows": rows.head(2).assign(
        banner_pos="top").to_dict("records")})["detail"]


def test_a_swap_under_load_drops_nothing_and_mixes_no_versions(svc: Svc) -> None:
    import mlflow

    _champions()
    client = mlflow.MlflowClient()
    old = {n: client.get_model_version_by_alias(n, "champion") for n in ("agent_classifier", "pricing_rules")}
    results: list[tuple[int, Any]] = []
    stop = threading.Event()

    def hammer() -> None:
        session = requests.Session()
        while not stop.is_set():
            resp = session.get(f"{svc.url}/v1/price/5", params={"session_id": "s1"}, headers={"X-API-Key": KEY},
                               timeout=30)
            results.append((resp.status_code, resp.json().get("models")))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(2)
    new = {n: client.create_model_version(n, mv.source, run_id=mv.run_id).version for n, mv in old.items()}
    for n, v in new.items():
        client.set_registered_model_alias(n, "champion", v)
    swapped = svc.call("POST", "/v1/admin/reload")
    assert swapped["models"]["agent_classifier"] == str(new["agent_classifier"])
    time.sleep(4)  # the other worker: through Redis at once, by polling at worst
    failures = svc.metric("serving_model_load_failures_total")
    broken = client.create_model_version("agent_classifier", "/nonexistent/model").version
    client.set_registered_model_alias("agent_classifier", "champion", broken)
    svc.call("POST", "/v1/admin/reload")
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    client.set_registered_model_alias("agent_classifier", "champion", new["agent_classifier"])
    assert svc.metric("serving_model_load_failures_total") >= failures + 1
    assert len(results) > 50 and {code for code, _ in results} == {200}
    pairs = {(m["agent_classifier"], m["pricing_rules"]) for _, m in results}
    before = (str(old["agent_classifier"].version), str(old["pricing_rules"].version))
    after = (str(new["agent_classifier"]), str(new["pricing_rules"]))
    assert pairs <= {before, after} and after in pairs, pairs  # never a mix, never the broken version
    assert results[-1][1] == {"agent_classifier": after[0], "pricing_rules": after[1]}


def test_redis_down_serves_list_prices_and_the_state_is_rebuilt_after(svc: Svc) -> None:
    events, records = _events(3, seed=41)
    sid = records[0]["sessionId"]
    mine = [r for r in records if r["sessionId"] == sid]
    svc.call("POST", "/v1/events", json={"events": mine[:-3]})

    def burst() -> list[Any]:  # concurrent: each worker's Redis pool then holds several connections
        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(lambda _: svc.call("GET", "/v1/price/11", params={"session_id": sid})["degraded"],
                                 range(32)))

    assert burst() == [None] * 32
    degraded = svc.metric("serving_degraded_total")
    _bounce("redis", down=True)
    try:
        q = svc.call("GET", "/v1/price/11", params={"session_id": sid})
        assert q["degraded"] == "redis" and q["price"] == q["list_price"] and q["multiplier"] == 1.0
        body = svc.call("POST", "/v1/events", json={"events": mine[-3:]})
        assert body["accepted"] == 3 and body["stored"] == "postgres" and body["degraded"] == "redis"
        b = svc.call("GET", "/v1/banner", params={"platform": "web", "slot": 2, "location": "home"})
        assert b["degraded"] == "redis" and abs(sum(b["propensities"].values()) - 1) < 1e-12
        assert svc.metric("serving_degraded_total") >= degraded + 3
    finally:
        _bounce("redis", down=False)
    from tests.session_features_pandas import session_features_pandas

    want = session_features_pandas(events[events["sessionId"] == sid]).iloc[0]
    got = svc.call("GET", f"/v1/sessions/{sid}/features")["features"]  # rebuilt from the log: every event
    assert got["n_events"] == len(mine)
    np.testing.assert_allclose([got[c] for c in want.index[2:]], want.iloc[2:].to_numpy(float), rtol=1e-9)
    # Every worker's pooled connections died with that Redis: none of them may cost a degraded answer now.
    assert burst() == [None] * 32
    b = svc.call("GET", "/v1/banner", params={"platform": "web", "slot": 2, "location": "home"})
    assert b["degraded"] is None  # arms seeded again into the empty Redis


def test_postgres_down_buffers_on_disk_and_replays_everything(svc: Svc) -> None:
    _, records = _events(40, seed=51)
    buffered, replayed = svc.metric("serving_buffered_rows_total"), svc.metric("serving_replayed_rows_total")
    _bounce("postgres", down=True)
    try:
        t0 = time.monotonic()
        for i in range(0, len(records), 200):
            body = svc.call("POST", "/v1/events", json={"events": records[i:i + 200]})
            assert body["accepted"] == len(records[i:i + 200]) and body["stored"] == "buffered"
        q = svc.call("GET", "/v1/price/7", params={"session_id": records[0]["sessionId"]})
        assert q["degraded"] is None and q["session_events"] > 0
        b = svc.call("GET", "/v1/banner", params={"platform": "web", "slot": 1, "location": "home"})
        assert time.monotonic() - t0 < 30  # no request waits out a dead database
        _wait(lambda: svc.call("GET", "/readyz")["buffered_rows"] >= len(records) + 2, 10,
              "the quote and the impression to reach the disk buffer")
        assert not svc.call("GET", "/readyz")["postgres"]
    finally:
        _bounce("postgres", down=False)
    _wait(lambda: svc.call("GET", "/readyz")["buffered_rows"] == 0, 60, "the buffer to be replayed")
    time.sleep(2)  # a worker that did not replay finds Postgres back by its own probe
    for i in range(6):  # both workers write to Postgres again
        assert svc.call("POST", "/v1/events", json={"events": records[i:i + 1]})["stored"] == "postgres"
    sids = sorted({r["sessionId"] for r in records})
    assert _sql(svc, "SELECT count(*) FROM events WHERE session_id = ANY(%s)", sids)[0][0] == len(records)
    assert _sql(svc, "SELECT count(*) FROM impressions WHERE impression_id = %s", b["impression_id"])[0][0] == 1
    assert _sql(svc, "SELECT count(*) FROM quotes WHERE quote_id = %s", q["quote_id"])[0][0] == 1
    moved = svc.metric("serving_buffered_rows_total") - buffered
    assert moved >= len(records) + 2 and svc.metric("serving_replayed_rows_total") - replayed == moved


def test_served_traffic_trains_the_next_champion_and_the_service_swaps_to_it(svc: Svc) -> None:
    import re

    from models.bandits.banner_synth import make_banner_world
    from serving.simulate import Client, banner_visits, shoppers

    client = Client(svc.url, KEY)
    sent = shoppers(client, 5000, seed=7)
    assert sent["sessions"] == 5000 and sent["purchases"] > 0
    contexts = [{"platform": "web", "slot": s, "location": "home"} for s in (1, 2)]
    clicks = banner_visits(client, contexts, make_banner_world(2, 6, 7).ctr * 20, 2000, seed=7)
    assert clicks["clicks"] > 0
    before = svc.call("GET", "/readyz")["models"]
    out = _finish(_pipeline(svc, "pricing_models", "--profile", "smoke", "--set", "source=served"), "pricing served")
    assert "source" in out
    champions = _champions()
    verdicts = "\n".join(line[-170:] for line in out.splitlines() if "jobs.registry: registry:" in line
                          or "agent classifier:" in line)
    assert champions["agent_classifier"] != before["agent_classifier"], verdicts
    served = svc.call("GET", "/readyz")["models"]
    assert served["agent_classifier"] == champions["agent_classifier"]
    assert served["pricing_rules"] == champions["pricing_rules"]
    q = svc.call("GET", "/v1/price/9", params={"session_id": "s1"})
    assert q["models"]["agent_classifier"] == champions["agent_classifier"]
    snap = svc.call("POST", "/v1/admin/banner/snapshot")
    assert snap["model"] == "banner_policy" and _champions()["banner_policy"] == snap["version"]
    from tests.model_requirements import uncovered

    assert uncovered("models:/banner_policy@champion") == set()
    out = _finish(_pipeline(svc, "banner_bandit_eval", "--profile", "smoke", "--set", "source=served"),
                  "banner served")
    ope_path = re.search(r'"ope_path": "([^"]+)"', out).group(1)  # type: ignore[union-attr]
    table = pd.read_csv(Path(ope_path) / "ope_results.csv")
    mine = table[table["source"] == "served"]
    assert set(mine["policy"]) >= {"thompson (served)", "uniform", "thompson (cold start on first half)"}
    replay = mine["estimator"] == "replay"  # biased under a non-uniform logger: not estimated, and says so
    assert mine.loc[replay, "estimate"].isna().all() and mine.loc[replay, "note"].str.contains("uniform").all()
    rest = mine[~replay]
    assert np.isfinite(rest["estimate"]).all() and (rest["lo"] <= rest["hi"]).all()
