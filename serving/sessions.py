"""Session state in Redis (one JSON value per session, a one-hour TTL renewed by each event), updated event
by event under an optimistic transaction, so two workers adding events to one session never lose one.

A session Redis does not know (Redis restarted, or the TTL passed while events were still in Postgres) is
rebuilt from the events the log store holds before new events are folded in: the online features never
silently start from a partial session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from models.pricing.online_features import add_event, new_state

PREFIX = "session:"


class SessionStore:
    """get / add for session states; Redis errors propagate (the caller decides how to degrade)."""

    def __init__(self, redis: Any, aredis: Any, ttl_s: int, history: Callable[[str], list[dict[str, Any]]]) -> None:
        # ``aredis`` (redis.asyncio) serves the per-request read: a slow Redis reply then holds up only the
        # requests that wait for it, not every request of the worker's event loop.
        self.redis, self.aredis, self.ttl_s, self.history = redis, aredis, ttl_s, history

    def _rebuilt(self, session_id: str) -> dict[str, Any]:
        state = new_state()
        for ev in self.history(session_id):
            add_event(state, ev)
        return state

    def add(self, session_id: str, events: Sequence[dict[str, Any]]) -> int:
        """Fold ``events`` into the session's state; returns how many were new (not already in the state)."""
        from redis.exceptions import WatchError

        key = PREFIX + session_id
        while True:
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    # Unknown here: the log store already holds this batch, so the rebuild includes it.
                    state = json.loads(raw) if raw is not None else self._rebuilt(session_id)
                    new = sum(add_event(state, ev) for ev in events)
                    pipe.multi()
                    pipe.set(key, json.dumps(state, separators=(",", ":")), ex=self.ttl_s)
                    pipe.execute()
                    return new
                except WatchError:
                    continue  # another worker changed this session meanwhile: fold again on its state

    async def get(self, session_id: str) -> dict[str, Any] | None:
        """The session's state (rebuilt from the log when Redis lost it), or None for a session with no event."""
        raw = await self.aredis.get(PREFIX + session_id)
        if raw is not None:
            return json.loads(raw)
        state = self._rebuilt(session_id)
        if not state["ts"]:
            return None
        self.redis.set(PREFIX + session_id, json.dumps(state, separators=(",", ":")), ex=self.ttl_s, nx=True)
        return state
