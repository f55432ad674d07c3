"""Online banner selection: Thompson sampling per (platform, slot, location) with the posteriors in Redis.

The banner is drawn from the context's Thompson propensities (the share of ``draws`` posterior draws each
creative wins), not from one raw draw: in distribution it is the same policy, and the logged propensity is
then exactly the probability with which the shown banner was chosen, which off-policy evaluation needs.
Each worker recomputes a context's propensities from Redis at most every ``refresh_s`` (a batched Thompson
policy, as production bandits run; 4,000 draws cost about a millisecond) and keeps the last ones it had, which
is what it serves from while Redis is down. An impression adds a failure to its creative's Beta, a click turns
that failure into a success.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

from models.bandits.banner import KEY

ARMS = "banner:arms"          # hash: "platform|slot|location" -> JSON list of creatives
POST = "banner:post:"         # hash per context: "<creative>:a" / "<creative>:b" -> float
IMPRESSION = "banner:imp:"    # impression id -> JSON {context, creative}, for clicks
IMPRESSION_TTL_S = 7 * 86400


def context_key(platform: str, slot: int, location: str) -> str:
    return f"{platform}|{int(slot)}|{location}"


def parse_contexts(spec: str) -> pd.DataFrame:
    """``platform/slot/location:n_creatives;...`` -> arms (KEY, creative), creatives numbered 0..n-1."""
    rows = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        try:
            ctx, n = part.rsplit(":", 1)
            platform, slot, location = ctx.split("/")
            rows += [{"platform": platform, "slot": int(slot), "location": location, "creative": c}
                     for c in range(int(n))]
        except ValueError as exc:
            raise ValueError(f"banner context {part!r} is not platform/slot/location:n_creatives") from exc
    return pd.DataFrame(rows)


def propensities(alpha: np.ndarray, beta: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """P(each arm wins a posterior draw), from ``draws`` joint draws; sums to one."""
    wins = np.argmax(rng.beta(alpha[None, :], beta[None, :], size=(draws, len(alpha))), axis=1)
    return np.bincount(wins, minlength=len(alpha)) / draws


class BannerPolicy:
    """The online posteriors (Redis) and the choice, click and snapshot operations on them."""

    def __init__(self, redis: Any, aredis: Any, prior_alpha: float, prior_beta: float, draws: int, seed: int,
                 refresh_s: float = 0.1) -> None:
        # ``aredis`` (redis.asyncio) for the per-request round trips, as in SessionStore.
        self.redis, self.aredis, self.prior_alpha, self.prior_beta = redis, aredis, prior_alpha, prior_beta
        self.draws = draws
        self.refresh_s = refresh_s
        self.rng = np.random.default_rng(seed)
        self._lock = threading.Lock()  # numpy Generators are not thread-safe; requests run in a thread pool
        self.cache: dict[str, tuple[float, list[int], np.ndarray]] = {}  # key -> (when, creatives, propensities)

    def seed_arms(self, arms: pd.DataFrame) -> int:
        """Register arms (KEY, creative[, alpha, beta]) Redis does not hold yet; returns the contexts added."""
        added = 0
        for (platform, slot, location), grp in arms.groupby(KEY, sort=True):  # a loop over contexts, not rows
            key = context_key(platform, slot, location)
            if not self.redis.hsetnx(ARMS, key, json.dumps(sorted(int(c) for c in grp["creative"]))):
                continue
            a = grp["alpha"] if "alpha" in grp else pd.Series(self.prior_alpha, index=grp.index)
            b = grp["beta"] if "beta" in grp else pd.Series(self.prior_beta, index=grp.index)
            mapping = {f"{int(c)}:a": float(x) for c, x in zip(grp["creative"], a)}
            mapping |= {f"{int(c)}:b": float(x) for c, x in zip(grp["creative"], b)}
            self.redis.hset(POST + key, mapping=mapping)
            added += 1
        return added

    def posterior(self, key: str) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Creatives and their Beta parameters for context ``key``; KeyError for an unknown context."""
        return self._parse(key, self.redis.hget(ARMS, key), self.redis.hgetall(POST + key))

    def _parse(self, key: str, creatives_raw: Any, post: dict[Any, Any]) -> tuple[list[int], np.ndarray, np.ndarray]:
        if creatives_raw is None:
            raise KeyError(key)
        creatives = json.loads(creatives_raw)
        post = {k.decode() if isinstance(k, bytes) else k: float(v) for k, v in post.items()}
        a = np.array([post.get(f"{c}:a", self.prior_alpha) for c in creatives])
        b = np.array([post.get(f"{c}:b", self.prior_beta) for c in creatives])
        return creatives, a, b

    def refresh(self, key: str) -> tuple[list[int], np.ndarray]:
        """Recompute the propensities of context ``key`` from its posterior in Redis (KeyError if unknown)."""
        return self._propensities(key, *self.posterior(key))

    async def arefresh(self, key: str) -> tuple[list[int], np.ndarray]:
        """:meth:`refresh` in one asynchronous round trip."""
        async with self.aredis.pipeline(transaction=False) as pipe:
            creatives_raw, post = await pipe.hget(ARMS, key).hgetall(POST + key).execute()
        return self._propensities(key, *self._parse(key, creatives_raw, post))

    def _propensities(self, key: str, creatives: list[int], a: np.ndarray,
                      b: np.ndarray) -> tuple[list[int], np.ndarray]:
        with self._lock:
            p = propensities(a, b, self.draws, self.rng)
        self.cache[key] = (time.monotonic(), creatives, p)
        return creatives, p

    async def choose(self, key: str, stale_ok: bool = False) -> tuple[int, float, list[int], np.ndarray]:
        """(creative, its propensity, every creative, every propensity) for one request in context ``key``;
        ``stale_ok``: from this worker's last propensities however old (Redis is down), KeyError if none."""
        cached = self.cache.get(key)
        if stale_ok:
            if cached is None:
                raise KeyError(key)
            creatives, p = cached[1], cached[2]
        elif cached is None or time.monotonic() - cached[0] > self.refresh_s:
            creatives, p = await self.arefresh(key)
        else:
            creatives, p = cached[1], cached[2]
        with self._lock:
            i = int(self.rng.choice(len(creatives), p=p))
        return creatives[i], float(p[i]), creatives, p

    async def record_impression(self, impression_id: str, key: str, creative: int) -> None:
        async with self.aredis.pipeline(transaction=True) as pipe:
            pipe.hincrbyfloat(POST + key, f"{creative}:b", 1.0)
            pipe.set(IMPRESSION + impression_id, json.dumps({"context": key, "creative": creative}),
                     ex=IMPRESSION_TTL_S)
            await pipe.execute()

    def record_click(self, impression_id: str, known: dict[str, Any] | None) -> str:
        """Move the impression's failure to a success once; ``known`` is the impression from the log store when
        Redis no longer has it. Returns ``recorded``, ``duplicate`` or ``unknown``."""
        raw = self.redis.get(IMPRESSION + impression_id)
        if raw is not None:
            imp = json.loads(raw)
        elif known is not None:
            imp = {"context": context_key(known["platform"], known["slot"], known["location"]),
                   "creative": int(known["creative"])}
        else:
            return "unknown"
        if not self.redis.set(f"banner:click:{impression_id}", 1, nx=True, ex=IMPRESSION_TTL_S):
            return "duplicate"
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrbyfloat(POST + imp["context"], f"{imp['creative']}:a", 1.0)
            pipe.hincrbyfloat(POST + imp["context"], f"{imp['creative']}:b", -1.0)
            pipe.execute()
        return "recorded"

    def contexts(self) -> list[str]:
        """Every context key Redis holds arms for."""
        return sorted(k.decode() if isinstance(k, bytes) else k for k in self.redis.hkeys(ARMS))

    def arms(self) -> pd.DataFrame:
        """Every arm with its current posterior: KEY, creative, alpha, beta."""
        rows = []
        for key in self.contexts():
            creatives, a, b = self.posterior(key)
            platform, slot, location = key.split("|")
            rows += [{"platform": platform, "slot": int(slot), "location": location, "creative": c,
                      "alpha": float(x), "beta": float(y)} for c, x, y in zip(creatives, a, b)]
        return pd.DataFrame(rows, columns=[*KEY, "creative", "alpha", "beta"])
