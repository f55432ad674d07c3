"""What the online service logged (``serving/logstore.py``), read back for the batch pipelines' ``source=served``:
clickstream events and price offers for pricing_models, banner impressions with their propensities and clicks
for banner_bandit_eval. The service's Postgres is ``$SERVING_DATABASE_URL`` (``make stack`` sets it).

Rows stream from a server-side cursor into Parquet in chunks, so memory stays flat however long the log.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.progress import Progress
from models.common.errors import BadInputError

log = logging.getLogger(__name__)

EVENTS_SQL = """
SELECT session_id AS "sessionId", user_id AS "userId", experiment_id AS "experimentId", event_type AS "eventType",
       product_id AS "productId", category, price, ts AS "timestamp", user_agent AS "userAgent", referrer,
       page_depth AS "pageDepth", scroll_depth AS "scrollDepth"
FROM events WHERE received_at > now() - make_interval(days => %(days)s) ORDER BY session_id, ts, id"""
# A session's offer is its latest quote served by the models (not a degraded list price); it was bought when a
# purchase event of that product arrived after the quote.
OFFERS_SQL = """
WITH q AS (
  SELECT DISTINCT ON (session_id) * FROM quotes
  WHERE degraded IS NULL AND created_at > now() - make_interval(days => %(days)s)
  ORDER BY session_id, created_at DESC)
SELECT q.session_id AS "sessionId", q.product_id AS "productId", q.category, q.rating, q.list_price,
       q.offer_price,
       EXISTS (SELECT 1 FROM events e WHERE e.session_id = q.session_id AND e.product_id = q.product_id
               AND e.event_type = 'purchase' AND e.received_at >= q.created_at)::int AS purchased
FROM q ORDER BY q.session_id"""
IMPRESSIONS_SQL = """
SELECT i.created_at AS timestamp, i.platform, i.slot, i.location, i.creative,
       (c.impression_id IS NOT NULL)::int AS click, i.propensity
FROM impressions i LEFT JOIN clicks c USING (impression_id)
WHERE i.created_at > now() - make_interval(days => %(days)s) ORDER BY i.created_at, i.impression_id"""


def database_url() -> str:
    """The service's log database, or a BadInputError saying how to point at it."""
    url = os.environ.get("SERVING_DATABASE_URL", "")
    if not url:
        raise BadInputError("source=served reads the online service's log: set SERVING_DATABASE_URL (make stack "
                            "sets it; `eval \"$(make stack-env)\"` in a shell)")
    return url


def export(sql: str, dest: Path, days: int, what: str, chunk: int = 100_000) -> int:
    """Stream ``sql``'s rows into the Parquet file ``dest``; returns the row count (BadInputError if none)."""
    import psycopg

    progress = Progress(f"served {what}", unit="rows")
    writer: pq.ParquetWriter | None = None
    n = 0
    try:
        with psycopg.connect(database_url(), connect_timeout=10) as conn, conn.cursor(name=f"export_{what}") as cur:
            cur.execute(sql, {"days": days})
            while rows := cur.fetchmany(chunk):
                names = [d.name for d in cur.description]
                table = pa.Table.from_pylist([dict(zip(names, r)) for r in rows])
                if writer is None:
                    writer = pq.ParquetWriter(dest, table.schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
                n += len(rows)
                progress.update(len(rows))
    except psycopg.OperationalError as exc:
        raise BadInputError(f"the online service's log database does not answer ({exc}); is it running?") from exc
    except psycopg.errors.UndefinedTable as exc:
        raise BadInputError("the online service's log database has no tables yet: start the service "
                            "(make serve) and send it traffic first") from exc
    finally:
        if writer is not None:
            writer.close()
    progress.done()
    if n == 0:
        raise BadInputError(f"the online service logged no {what} in the last {days} days")
    log.info("served %s: %d rows", what, n)
    return n


def read_frame(sql: str, days: int, what: str) -> Any:
    """A small served table (banner impressions) as a pandas frame, through :func:`export`."""
    import tempfile

    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{what}.parquet"
        export(sql, path, days, what)
        return pd.read_parquet(path)
