"""The service's durable log in Postgres: events, price quotes, banner impressions and clicks.

Events and clicks are written before the request is answered. Quotes and impressions, one row per request,
are written behind: a writer thread inserts what queued up in a quarter of a second in one transaction (a worker
killed -9 loses the rows of that moment; a clean stop flushes). Every row has a natural key and is inserted
with ``ON CONFLICT DO NOTHING``, so writing a row twice (a client's retry, a replay of the disk buffer) stores
it once. While Postgres does not answer, rows are appended to a local buffer file (fsynced) and replayed
when it is back; the buffered and replayed rows are counted.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EVENT_COLUMNS = {"sessionId": "session_id", "userId": "user_id", "experimentId": "experiment_id",
                 "eventType": "event_type", "productId": "product_id", "category": "category", "price": "price",
                 "timestamp": "ts", "userAgent": "user_agent", "referrer": "referrer", "pageDepth": "page_depth",
                 "scrollDepth": "scroll_depth"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id bigserial PRIMARY KEY, session_id text NOT NULL, user_id text NOT NULL, experiment_id text NOT NULL,
    event_type text NOT NULL, product_id bigint NOT NULL, category text, price double precision,
    ts bigint NOT NULL, user_agent text NOT NULL, referrer text, page_depth integer NOT NULL,
    scroll_depth double precision NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, ts, event_type, product_id));
CREATE TABLE IF NOT EXISTS quotes (
    quote_id uuid PRIMARY KEY, session_id text NOT NULL, product_id bigint NOT NULL, category text NOT NULL,
    rating double precision NOT NULL, list_price double precision NOT NULL, offer_price double precision NOT NULL,
    multiplier double precision NOT NULL, p_agent double precision, degraded text, versions jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS quotes_session ON quotes (session_id);
CREATE TABLE IF NOT EXISTS impressions (
    impression_id uuid PRIMARY KEY, platform text NOT NULL, slot integer NOT NULL, location text NOT NULL,
    creative integer NOT NULL, propensity double precision NOT NULL, policy text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS clicks (
    impression_id uuid PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
"""
KEYS = {"events": "session_id, ts, event_type, product_id", "quotes": "quote_id", "impressions": "impression_id",
        "clicks": "impression_id"}
LINGER_S = 0.25


class LogStore:
    """Inserts into Postgres through a small pool; falls back to the disk buffer under ``buffer_dir``."""

    def __init__(self, database_url: str, buffer_dir: Path, on_buffered: Any = None) -> None:
        from psycopg_pool import ConnectionPool

        self.buffer_dir = Path(buffer_dir)
        self.buffer_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._on_buffered = on_buffered or (lambda table, n: None)
        self.pool = ConnectionPool(database_url, min_size=1, max_size=8, open=False, timeout=2.0,
                                   kwargs={"connect_timeout": 2, "autocommit": False})
        self.pool.open(wait=False)
        self._schema_ready = False
        self._queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._writer: threading.Thread | None = None
        # After a failure, writes go straight to the buffer instead of each waiting out the pool's timeout;
        # the replay loop (which runs while anything is buffered) is what finds Postgres back.
        self._down = False

    def available(self) -> bool:
        """False from a failed write until a replay (or :meth:`ping`) reaches Postgres again."""
        return not self._down

    def _mark_down(self) -> None:
        self._down = True

    def ping(self) -> bool:
        """Whether Postgres answers now (a short query); updates :meth:`available`."""
        try:
            with self.pool.connection(timeout=1.0) as conn:
                conn.execute("SELECT 1")
            self._down = False
        except Exception:
            self._down = True
        return not self._down

    def close(self) -> None:
        self.flush()
        self.pool.close()

    def write_behind(self, table: str, row: dict[str, Any]) -> None:
        """Queue one row for the writer thread (see the module docstring)."""
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._drain, daemon=True, name="logstore-writer")
                    self._writer.start()
        self._queue.put((table, row))

    def flush(self) -> None:
        """Wait until every queued row is in Postgres or the disk buffer."""
        if self._writer is not None:
            self._queue.join()

    def pending(self) -> int:
        return self._queue.qsize()

    def _drain(self) -> None:
        while True:
            batch = [self._queue.get()]
            # Rows of the next LINGER_S go into the same transaction: one insert per request would cost
            # Postgres and this worker more CPU than the requests themselves.
            deadline = time.monotonic() + LINGER_S
            while len(batch) < 5000:
                try:
                    batch.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0)))
                except queue.Empty:
                    break
            by_table: dict[str, list[dict[str, Any]]] = {}
            for table, row in batch:
                by_table.setdefault(table, []).append(row)
            for table, rows in by_table.items():
                try:
                    self.write(table, rows)
                except Exception:  # not even the disk buffer: say so loudly, keep the thread alive
                    log.exception("lost %d %s rows: neither Postgres nor the disk buffer took them", len(rows), table)
            for _ in batch:
                self._queue.task_done()

    def ensure_schema(self) -> bool:
        """Create the tables if missing; False when Postgres does not answer (tried again on the next write)."""
        if self._schema_ready:
            return True
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self.pool.connection() as conn:
                # Several workers start at once: one creates the tables, the others wait for it.
                conn.execute("SELECT pg_advisory_xact_lock(4207)")
                conn.execute(SCHEMA)
            self._schema_ready = True
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._mark_down()
            log.warning("Postgres not reachable for the schema (%s): rows go to the disk buffer", exc)
        return self._schema_ready

    def _insert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """COPY the rows into a temporary table, then insert what is not there yet: COPY costs the Python side a
        tenth of a row-by-row INSERT, and ``ON CONFLICT DO NOTHING`` keeps a second write of a row harmless."""
        if not self.ensure_schema():
            raise ConnectionError("Postgres is down")
        cols = list(rows[0])
        names = ", ".join(cols)
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS staged_{table} (LIKE {table} INCLUDING DEFAULTS) "
                        "ON COMMIT DELETE ROWS")
            with cur.copy(f"COPY staged_{table} ({names}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row([json.dumps(r[c]) if isinstance(r[c], dict) else r[c] for c in cols])
            cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM staged_{table} "
                        f"ON CONFLICT ({KEYS[table]}) DO NOTHING")

    def write(self, table: str, rows: Sequence[dict[str, Any]]) -> str:
        """Store ``rows`` durably: ``postgres``, or ``buffered`` (on local disk, replayed later)."""
        import psycopg
        from psycopg_pool import PoolTimeout

        if not rows:
            return "postgres"
        if self.available():
            try:
                self._insert(table, rows)
                return "postgres"
            except (psycopg.OperationalError, PoolTimeout, ConnectionError) as exc:
                self._mark_down()
                log.warning("Postgres write of %d %s failed (%s): buffered on disk", len(rows), table, exc)
        self._append_buffer(table, rows)
        self._on_buffered(table, len(rows))
        return "buffered"

    def _append_buffer(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        path = self.buffer_dir / f"{table}.{os.getpid()}.jsonl"
        with self._lock, open(path, "a") as f:
            f.writelines(json.dumps(r, default=str) + "\n" for r in rows)
            f.flush()
            os.fsync(f.fileno())

    def buffered(self) -> int:
        """Rows waiting in the disk buffer (every worker's files)."""
        n = 0
        for path in self.buffer_dir.glob("*.jsonl*"):
            with open(path) as f:
                n += sum(1 for _ in f)
        return n

    def replay(self) -> int:
        """Insert every buffered row (any worker's file) and remove the file; returns the rows replayed."""
        done = 0
        for path in sorted(self.buffer_dir.glob("*.jsonl")):
            table = path.name.split(".")[0]
            claimed = path.with_name(f"{path.name}.replay-{os.getpid()}-{uuid.uuid4().hex[:6]}")
            try:
                with self._lock:
                    os.rename(path, claimed)  # atomic: one worker replays a file
            except FileNotFoundError:
                continue
            rows = [json.loads(line) for line in claimed.read_text().splitlines() if line.strip()]
            try:
                for i in range(0, len(rows), 1000):
                    self._insert(table, rows[i:i + 1000])
            except Exception:
                self._mark_down()
                os.rename(claimed, path.with_name(f"{table}.{os.getpid()}.{uuid.uuid4().hex[:6]}.jsonl"))
                raise
            claimed.unlink()
            self._down = False
            done += len(rows)
        for orphan in self.buffer_dir.glob("*.jsonl.replay-*"):  # a worker killed mid-replay: put it back
            pid = orphan.name.split("replay-")[1].split("-")[0]
            if not Path(f"/proc/{pid}").exists():
                os.rename(orphan, orphan.with_name(orphan.name.split(".jsonl")[0] + f".{uuid.uuid4().hex[:6]}.jsonl"))
        if done:
            log.info("replayed %d buffered rows into Postgres", done)
        return done

    def session_events(self, session_id: str, ttl_s: int) -> list[dict[str, Any]]:
        """The events of ``session_id`` received within the session TTL, as the clickstream schema."""
        if self._down:
            raise ConnectionError("Postgres is down")
        cols = ", ".join(f'{col} AS "{name}"' for name, col in EVENT_COLUMNS.items())
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(f"SELECT {cols} FROM events WHERE session_id = %s "
                        f"AND received_at > now() - make_interval(secs => %s) ORDER BY id", (session_id, ttl_s))
            names = [d.name for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def impression(self, impression_id: str) -> dict[str, Any] | None:
        """An impression's context and creative, or None when there is no such impression."""
        if self._down:
            raise ConnectionError("Postgres is down")
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT platform, slot, location, creative FROM impressions WHERE impression_id = %s",
                        (impression_id,))
            row = cur.fetchone()
        return None if row is None else dict(zip(("platform", "slot", "location", "creative"), row))

    def count(self, table: str) -> int:
        with self.pool.connection() as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
