"""The FastAPI app: events in, prices, banners and CTR scores out, everything logged for the batch DAGs.

``create_app`` is what uvicorn runs in each worker (``python -m serving``). Degraded modes: with Redis down a
price is the list price flagged ``degraded: redis`` and a banner comes from the worker's last copy of its
context's posterior; with Postgres down every log row goes to the disk buffer and is replayed when it is back.
Nothing of that is a 500.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import secrets
import threading
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from serving import metrics
from serving.config import ServingConfig
from serving.logstore import EVENT_COLUMNS
from serving.schemas import Click, CtrRows, EventBatch, validate_events

log = logging.getLogger("serving")
RELOAD_CHANNEL = "serving:reload"
PRICE_MODELS = ("agent_classifier", "pricing_rules")


class Service:
    """Everything one worker holds: clients, champions, the banner policy, the catalogue, background loops."""

    def __init__(self, cfg: ServingConfig) -> None:
        import redis.asyncio

        from jobs.tracking import mlflow_setup
        from serving.banner import BannerPolicy
        from serving.champions import Champions
        from serving.logstore import LogStore
        from serving.sessions import SessionStore

        self.cfg = cfg
        mlflow_setup("serving")
        self.redis = redis.Redis.from_url(cfg.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        # After a Redis restart every pooled asyncio connection is dead, and (unlike the sync client, which
        # checks a connection before use) its first command fails: one reconnect and retry on a closed
        # connection, so a restart costs no degraded answer. Timeouts are not retried (the 0.5 s is the budget).
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.aredis = redis.asyncio.Redis.from_url(cfg.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                                   retry=Retry(NoBackoff(), 1),
                                                   retry_on_error=[RedisConnectionError])
        self.store = LogStore(cfg.database_url, Path(cfg.state_dir) / "buffer",
                              on_buffered=lambda table, n: metrics.BUFFERED.labels(table).inc(n))
        self.sessions = SessionStore(self.redis, self.aredis, cfg.session_ttl_s, self._history)
        self.champions = Champions(on_swap=self._swapped,
                                   on_failure=lambda name, v: metrics.LOAD_FAILURES.labels(name).inc())
        self.banner = BannerPolicy(self.redis, self.aredis, cfg.banner_prior_alpha, cfg.banner_prior_beta,
                                   cfg.banner_draws,
                                   seed=int.from_bytes(uuid.uuid4().bytes[:4], "little"))
        self.products = load_catalogue(cfg)
        self._stop = threading.Event()
        self.ready = False

    # --- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.store.ensure_schema()
        self.refresh()
        self.seed_banner_arms()
        # Everything loaded so far (MLflow, the models, pandas) lives as long as the worker: out of the
        # collector's sight, a full collection scans only what requests allocate, not every module's objects
        # (each such pause delays every request in flight).
        gc.collect()
        gc.freeze()
        self.ready = True
        for target in (self._poll_loop, self._listen_loop):
            threading.Thread(target=target, daemon=True, name=target.__name__).start()

    def stop(self) -> None:
        self._stop.set()
        self.store.close()

    def refresh(self) -> list[str]:
        try:
            return self.champions.refresh()
        except Exception as exc:  # the registry is unreachable: keep serving what is loaded
            log.warning("registry check failed, serving %s: %s", self.champions.bundle.versions(), exc)
            return []

    def _swapped(self, name: str, version: str) -> None:
        metrics.SWAPS.labels(name).inc()
        metrics.MODEL_VERSION.labels(name).set(float(version))

    def _history(self, session_id: str) -> list[dict[str, Any]]:
        try:
            return self.store.session_events(session_id, self.cfg.session_ttl_s)
        except Exception as exc:  # Postgres down: the state starts from what arrives now
            log.warning("no event history for session %s (%s)", session_id, exc)
            return []

    def _poll_loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(1.0):
            try:
                # Probed by each worker: another may have replayed the buffer while this one still holds
                # Postgres for down and keeps buffering.
                if not self.store.available():
                    self.store.ping()
                if any(self.store.buffer_dir.glob("*.jsonl*")):
                    metrics.REPLAYED.inc(self.store.replay())
            except Exception as exc:
                log.info("buffer replay waits for Postgres: %s", exc)
            if time.monotonic() - last >= self.cfg.poll_s:
                last = time.monotonic()
                self.refresh()

    def _listen_loop(self) -> None:
        """Alias-moved notifications from any worker (``/v1/admin/reload``) reach every worker through Redis."""
        while not self._stop.is_set():
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(RELOAD_CHANNEL)
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=1.0):
                        self.refresh()
            except Exception:
                self._stop.wait(2.0)  # Redis down: polling still swaps, this resumes when it is back

    def seed_banner_arms(self) -> None:
        """Arms Redis lacks: from the ``banner_policy`` champion (a snapshot of the posteriors), else the prior."""
        from serving.banner import parse_contexts

        try:
            policy = self.champions.bundle.models.get("banner_policy")
            arms = (policy.model.unwrap_python_model().arms if policy is not None
                    else parse_contexts(self.cfg.banner_contexts))
            added = self.banner.seed_arms(arms)
            if added:
                log.info("banner: %d contexts seeded from %s", added,
                         f"banner_policy v{policy.version}" if policy else "the prior")
            for key in self.banner.contexts():  # what this worker serves from if Redis goes down
                self.banner.refresh(key)
        except Exception as exc:
            log.warning("banner arms not seeded (Redis down?): %s", exc)


def load_catalogue(cfg: ServingConfig) -> dict[int, tuple[str, float, float]]:
    """productId -> (category, list_price, rating): a dict lookup per request, not a pandas one."""
    if cfg.catalogue_path:
        from jobs.tables import Column, read_table

        cols = (Column("productId", "int"), Column("category", "str"), Column("list_price", "float"),
                Column("rating", "float"))
        df = read_table(Path(cfg.catalogue_path), cols, "product catalogue")
    else:
        from models.pricing.synth import ClickstreamSpec, products

        df = products(ClickstreamSpec(n_products=cfg.catalogue_products, seed=cfg.catalogue_seed))
    return {int(pid): (str(c), float(lp), float(r))
            for pid, c, lp, r in zip(df["productId"], df["category"], df["list_price"], df["rating"])}


async def price_quote(svc: Service, product_id: int, session_id: str) -> dict[str, Any]:
    """The served price of ``product_id`` for ``session_id`` and everything that decided it."""
    from redis.exceptions import RedisError

    from models.pricing.online_features import features, new_state

    bundle = svc.champions.bundle  # once: the whole response uses these versions
    clf, rules = bundle.get("agent_classifier"), bundle.get("pricing_rules")
    product = svc.products.get(product_id)
    if product is None:
        raise HTTPException(404, f"product_id {product_id} is not in the catalogue")
    list_price = product[1]
    out: dict[str, Any] = {"product_id": product_id, "session_id": session_id, "list_price": list_price,
                           "models": {"agent_classifier": clf.version, "pricing_rules": rules.version},
                           "degraded": None}
    try:
        state = await svc.sessions.get(session_id)
    except RedisError as exc:
        log.warning("Redis down, list price for session %s: %s", session_id, exc)
        metrics.DEGRADED.labels("redis").inc()
        out.update(p_agent=None, multiplier=1.0, price=list_price, session_events=None, degraded="redis")
        return out
    feats = features(state or new_state())
    p_agent = float(np.asarray(clf.predict([[feats[c] for c in clf.columns]])).ravel()[0])
    feats["log_list_price"] = math.log(list_price)
    raw = float(np.asarray(rules.predict([[feats[c] for c in rules.columns]])).ravel()[0])
    mult = min(max(raw, svc.cfg.price_floor), svc.cfg.price_cap)
    out.update(p_agent=p_agent, rules_multiplier=raw, multiplier=mult, price=round(list_price * mult, 2),
               session_events=int(feats["n_events"]))
    return out


async def price_answer(svc: Service, product_id: int, session_id: str) -> dict[str, Any]:
    """``GET /v1/price/{product_id}``: the quote, logged (behind) with its id."""
    quote = await price_quote(svc, product_id, session_id)
    quote["quote_id"] = str(uuid.uuid4())
    category, _, rating = svc.products[product_id]
    svc.store.write_behind("quotes", {
        "quote_id": quote["quote_id"], "session_id": session_id, "product_id": product_id,
        "category": category, "rating": rating, "list_price": quote["list_price"], "offer_price": quote["price"],
        "multiplier": quote["multiplier"], "p_agent": quote["p_agent"], "degraded": quote["degraded"],
        "versions": quote["models"]})
    return quote


async def banner_answer(svc: Service, platform: str, slot: int, location: str) -> dict[str, Any]:
    """``GET /v1/banner``: a Thompson draw for the context, its impression logged with the propensity."""
    from redis.exceptions import RedisError

    from serving.banner import context_key

    key = context_key(platform, slot, location)
    impression_id = str(uuid.uuid4())
    degraded = None
    try:
        try:
            creative, prop, creatives, props = await svc.banner.choose(key)
        except KeyError:
            svc.seed_banner_arms()  # Redis restarted empty: seed again, then this context may exist
            creative, prop, creatives, props = await svc.banner.choose(key)
    except KeyError:
        raise HTTPException(404, f"no creatives for context platform={platform!r} slot={slot} "
                                 f"location={location!r}") from None
    except RedisError:
        try:
            creative, prop, creatives, props = await svc.banner.choose(key, stale_ok=True)
        except KeyError:
            raise HTTPException(503, "Redis is down and this worker has no propensities for this context "
                                     "yet") from None
        metrics.DEGRADED.labels("redis").inc()
        degraded = "redis"
    svc.store.write_behind("impressions", {"impression_id": impression_id, "platform": platform, "slot": slot,
                                           "location": location, "creative": int(creative), "propensity": prop,
                                           "policy": "thompson"})
    if degraded is None:
        try:
            await svc.banner.record_impression(impression_id, key, int(creative))
        except RedisError:  # went down just now: the impression is in the log, the posterior misses it
            metrics.DEGRADED.labels("redis").inc()
            degraded = "redis"
    return {"impression_id": impression_id, "creative": int(creative), "propensity": prop,
            "propensities": {str(c): float(p) for c, p in zip(creatives, props)},
            "degraded": degraded, "context": {"platform": platform, "slot": slot, "location": location}}


def create_app(cfg: ServingConfig | None = None) -> FastAPI:
    """The app of one worker (uvicorn's factory). The hot endpoints (price, banner, session features) are
    ``async`` and do their sub-millisecond work on the event loop: a thread-pool hop per request cost more CPU
    than the work; their Redis round trips are awaited (0.5 s timeouts), so they never block the loop."""
    from serving.config import from_env

    cfg = cfg or from_env()
    svc = Service(cfg)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        svc.start()
        yield
        svc.stop()
        await svc.aredis.aclose()

    app = FastAPI(title="adplatform serving", version="1", lifespan=lifespan)
    app.state.svc = svc


    app.add_middleware(HotPaths, svc=svc, api=app)
    app.add_middleware(Timed)
    if cfg.api_key:
        app.add_middleware(ApiKey, key=cfg.api_key)

    from serving.champions import MissingChampion

    @app.exception_handler(MissingChampion)
    async def no_champion(request: Request, exc: MissingChampion) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "model": exc.name}, status_code=503)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        deps = {"redis": _ping(svc.redis.ping), "postgres": svc.store.ping() and svc.store.ensure_schema()}
        body = {"ready": svc.ready, "models": svc.champions.bundle.versions(), **deps,
                "buffered_rows": svc.store.buffered(), "pending_rows": svc.store.pending()}
        return JSONResponse(body, status_code=200 if svc.ready else 503)

    @app.get("/metrics")
    def metrics_page() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/events")
    def post_events(batch: EventBatch) -> JSONResponse:
        from redis.exceptions import RedisError

        good, bad = validate_events(batch.events)
        metrics.EVENTS.labels("rejected").inc(len(bad))
        body: dict[str, Any] = {"accepted": len(good), "rejected": bad, "stored": None, "degraded": None}
        if good:
            rows = [{col: ev[name] for name, col in EVENT_COLUMNS.items()} for ev in good]
            body["stored"] = svc.store.write("events", rows)
            metrics.EVENTS.labels("accepted").inc(len(good))
            by_session: dict[str, list[dict[str, Any]]] = {}
            for ev in good:
                by_session.setdefault(ev["sessionId"], []).append(ev)
            try:
                body["new"] = sum(svc.sessions.add(sid, evs) for sid, evs in by_session.items())
            except RedisError as exc:  # durable in the log: the state is rebuilt from it when Redis is back
                log.warning("Redis down, session state not updated: %s", exc)
                metrics.DEGRADED.labels("redis").inc()
                body["degraded"] = "redis"
        return JSONResponse(body, status_code=422 if bad and not good else 200)

    @app.get("/v1/sessions/{session_id}/features")
    async def session_features(session_id: str) -> dict[str, Any]:
        """The 29 features the price of this session is computed from (404 for a session with no event)."""
        from models.pricing.online_features import features

        state = await svc.sessions.get(session_id)
        if state is None:
            raise HTTPException(404, f"no events for session {session_id!r} within the last "
                                     f"{cfg.session_ttl_s} s")
        return {"session_id": session_id, "features": features(state)}

    @app.get("/v1/price/{product_id}")
    async def get_price(product_id: int, session_id: str) -> JSONResponse:
        return JSONResponse(await price_answer(svc, product_id, session_id))

    @app.get("/v1/banner")
    async def get_banner(platform: str, slot: int, location: str) -> JSONResponse:
        return JSONResponse(await banner_answer(svc, platform, slot, location))

    @app.post("/v1/banner/click")
    def post_click(click: Click) -> JSONResponse:
        try:
            known = svc.store.impression(click.impression_id)
        except Exception:  # Postgres down: Redis still knows the recent impressions
            known = None
        if known is None:
            from serving.banner import IMPRESSION

            try:
                in_redis = svc.redis.exists(IMPRESSION + click.impression_id)
            except Exception:
                in_redis = False
            if not in_redis:
                raise HTTPException(404, f"unknown impression_id {click.impression_id}")
        status = svc.banner.record_click(click.impression_id, known)
        if status == "recorded":
            svc.store.write("clicks", [{"impression_id": click.impression_id}])
        return JSONResponse({"impression_id": click.impression_id, "status": status})

    @app.post("/v1/ctr")
    def post_ctr(body: CtrRows) -> dict[str, Any]:
        from models.ctr.features import RAW_INPUTS

        model = svc.champions.bundle.get("ctr_lightgbm")
        rows = pd.DataFrame(body.rows)
        missing = [c for c in RAW_INPUTS if c not in rows.columns]
        if missing:
            raise HTTPException(422, f"rows lack the field(s) {missing} (every row needs {list(RAW_INPUTS)})")
        holes = rows[list(RAW_INPUTS)].isna().any()
        if holes.any():
            raise HTTPException(422, f"field(s) {list(holes[holes].index)} are null in some rows")
        from mlflow.exceptions import MlflowException

        from serving.champions import conform

        try:
            p = np.asarray(model.model.predict(conform(model.model, rows)), dtype=float)
        except (ValueError, TypeError, OverflowError, MlflowException) as exc:
            raise HTTPException(422, f"rows do not fit the CTR model's schema: {exc}") from exc
        return {"p_click": p.tolist(), "model": {"ctr_lightgbm": model.version}}

    @app.post("/v1/admin/reload")
    def reload() -> dict[str, Any]:
        swapped = svc.refresh()
        try:
            svc.redis.publish(RELOAD_CHANNEL, "reload")
        except Exception:
            pass  # the other workers catch up by polling
        return {"swapped": swapped, "models": svc.champions.bundle.versions()}

    @app.post("/v1/admin/banner/snapshot")
    def snapshot() -> dict[str, Any]:
        from serving.snapshot import register_banner_policy

        return register_banner_policy(svc.banner.arms())

    return app


class HotPaths:
    """``GET /v1/price/{product_id}`` and ``GET /v1/banner`` answered without FastAPI's routing, parameter
    validation and exception layers, which cost a third of each request's CPU. Only the plain case is taken
    here: a parameter that is not plainly well-formed, an unknown product or context, or a missing champion
    goes on to the FastAPI route, which answers it as documented (a 422 naming the field, a 404, a 503)."""

    def __init__(self, app: Any, svc: Service, api: FastAPI) -> None:
        self.app, self.svc, self.api = app, svc, api
        self._routes: dict[str, Any] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = await self._answer(scope)
            if body is not None:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Any) -> bytes | None:
        from urllib.parse import parse_qsl

        from serving.champions import MissingChampion

        path = scope["path"]
        if path.startswith("/v1/price/"):
            route, pid = "/v1/price/{product_id}", path[len("/v1/price/"):]
        elif path == "/v1/banner":
            route, pid = "/v1/banner", ""
        else:
            return None
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        try:
            if route == "/v1/banner":
                if not query.get("slot", "").isdigit() or "platform" not in query or "location" not in query:
                    return None
                body = await banner_answer(self.svc, query["platform"], int(query["slot"]), query["location"])
            else:
                if not pid.isdigit() or "session_id" not in query:
                    return None
                body = await price_answer(self.svc, int(pid), query["session_id"])
        except (HTTPException, MissingChampion):
            return None  # nothing was logged: the route raises it again and answers it
        if self._routes is None:
            self._routes = {getattr(r, "path", ""): r for r in self.api.routes}
        scope["route"] = self._routes.get(route)  # the latency histogram's label, as the router would set it
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class ApiKey:
    """Every ``/v1`` request needs the ``X-API-Key`` header (plain ASGI: cheaper than a dependency per route)."""

    def __init__(self, app: Any, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1"):
            given = dict(scope["headers"]).get(b"x-api-key", b"")
            if not secrets.compare_digest(given, self.key):
                await JSONResponse({"detail": "missing or wrong X-API-Key header"}, status_code=401)(
                    scope, receive, send)
                return
        await self.app(scope, receive, send)


class Timed:
    """Request latency per route into the Prometheus histogram (plain ASGI: Starlette's BaseHTTPMiddleware costs
    about a millisecond a request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            metrics.LATENCY.labels(getattr(route, "path", "other")).observe(time.perf_counter() - t0)


def _ping(fn: Any) -> bool:
    try:
        return bool(fn())
    except Exception:
        return False
