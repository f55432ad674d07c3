"""The service's settings, from the environment (``SERVING_*``); on a machine running ``make stack`` the Redis
and Postgres addresses default to the stack's."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from models.common.errors import BadInputError

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServingConfig:
    """Every knob of the service.

    Attributes:
        host, port, workers: where uvicorn listens (loopback unless the user sets a host) and how many processes.
        api_key: when set, every /v1 request needs it in the ``X-API-Key`` header.
        redis_url, database_url: session state and online posteriors; the durable event and impression log.
        state_dir: the disk buffer for log rows while Postgres is down, and the Prometheus files of the workers.
        session_ttl_s: how long a session's state lives in Redis after its latest event.
        price_floor, price_cap: the served multiplier of the list price is clipped to [floor, cap].
        poll_s: how often each worker checks the registry for moved aliases.
        catalogue_path: products (productId, category, list_price, rating) as Parquet or CSV; empty = the
            synthetic catalogue of ``catalogue_seed`` (the one pricing_models generates with that seed).
        banner_prior_alpha, banner_prior_beta, banner_draws: the Beta prior of a new creative, and the posterior
            draws behind each context's propensities.
        banner_contexts: ``platform/slot/location:creatives`` entries (``;``-separated) registered at the prior
            when no ``banner_policy`` champion exists, e.g. ``web/1/home:8``.
        snapshot_s: how often the online banner posterior is registered as ``banner_policy`` (0 = on request only).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    api_key: str = ""
    redis_url: str = ""
    database_url: str = ""
    state_dir: str = str(REPO / ".serving")
    session_ttl_s: int = 3600
    price_floor: float = 0.8
    price_cap: float = 1.5
    poll_s: float = 10.0
    catalogue_path: str = ""
    catalogue_seed: int = 42
    catalogue_products: int = 2000
    banner_prior_alpha: float = 1.0
    banner_prior_beta: float = 100.0
    banner_draws: int = 4000
    banner_contexts: str = "web/1/home:8;web/2/home:8;app/1/home:6"
    snapshot_s: float = 0.0

    def __post_init__(self) -> None:
        problems = [msg for ok, msg in (
            (0 < self.price_floor <= 1 <= self.price_cap, f"SERVING_PRICE_FLOOR ({self.price_floor}) <= 1 <= "
                                                         f"SERVING_PRICE_CAP ({self.price_cap}) is needed"),
            (self.session_ttl_s > 0, "SERVING_SESSION_TTL_S must be > 0"),
            (self.workers >= 1, "SERVING_WORKERS must be >= 1"),
            (self.banner_draws >= 100, "SERVING_BANNER_DRAWS must be >= 100"),
            (bool(self.redis_url), "SERVING_REDIS_URL is not set (and no `make stack` here to take it from)"),
            (bool(self.database_url), "SERVING_DATABASE_URL is not set (and no `make stack` here to take it from)"),
        ) if not ok]
        if problems:
            raise BadInputError("serving config: " + "; ".join(problems))


def _stack_defaults() -> dict[str, str]:
    """Redis and Postgres of ``make stack`` when it has run here, else nothing."""
    from stack.settings import load, stack_dir

    if not (stack_dir() / "secrets.env").exists():
        return {}
    from stack.settings import client_env

    s = load()
    env = client_env(s)
    return {"redis_url": env["SERVING_REDIS_URL"], "database_url": env["SERVING_DATABASE_URL"],
            "port": int(s["SERVING_PORT"])}


def from_env() -> ServingConfig:
    """``SERVING_<FIELD>`` for every field, each typed like its default."""
    values: dict[str, object] = {}
    for name, field in ServingConfig.__dataclass_fields__.items():
        raw = os.environ.get(f"SERVING_{name.upper()}")
        if raw is None:
            continue
        kind = type(field.default)
        try:
            values[name] = kind(raw)
        except ValueError as exc:
            raise BadInputError(f"SERVING_{name.upper()}={raw!r} is not a {kind.__name__}") from exc
    missing = {k: v for k, v in _stack_defaults().items() if k not in values}
    if missing:
        log.info("serving: %s from `make stack` (stack.env)", ", ".join(f"SERVING_{k.upper()}" for k in missing))
        values.update(missing)
    return ServingConfig(**values)  # type: ignore[arg-type]
