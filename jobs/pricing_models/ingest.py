"""ingest_events: clickstream events and price-experiment offers from files, Kafka, the online service's log or
the generator.

Output (this run's folder): ``events/events.parquet``, ``events/offers.parquet`` and, for
synthetic data only, ``truth/truth.parquet`` (kind, true P(agent), purchase model) apart.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.paths import RunContext, atomic_path, sha256_file
from jobs.pricing_models.config import PricingConfig
from jobs.progress import Progress
from jobs.tables import Column, read_table
from models.common.errors import BadInputError
from models.pricing.synth import ClickstreamSpec, generate

log = logging.getLogger(__name__)

# Non-product events (search, checkout) have no category or price; a landing has no referrer.
EVENT_SCHEMA = (Column("sessionId", "str"), Column("userId", "str"), Column("experimentId", "str"),
                Column("eventType", "str"), Column("productId", "int"), Column("category", "str", nullable=True),
                Column("price", "float", nullable=True), Column("timestamp", "int"), Column("userAgent", "str"),
                Column("referrer", "str", nullable=True), Column("pageDepth", "int"), Column("scrollDepth", "float"))
OFFER_SCHEMA = (Column("sessionId", "str"), Column("productId", "int"), Column("category", "str"),
                Column("rating", "float"), Column("list_price", "float"), Column("offer_price", "float"),
                Column("purchased", "int"))


def spec_of(cfg: PricingConfig) -> ClickstreamSpec:
    return ClickstreamSpec(n_sessions=cfg.n_sessions, seed=cfg.seed, n_products=cfg.n_products,
                           label_noise=cfg.label_noise)


def write_synthetic(cfg: PricingConfig, events_dir: Path, truth_path: Path) -> None:
    """Generate chunk by chunk; events stream into one Parquet file, memory stays flat."""
    spec = spec_of(cfg)
    progress = Progress("generate", total=spec.n_sessions, unit="sessions")
    writer = None
    offers, truth = [], []
    try:
        for events, off, tr in generate(spec):
            table = pa.Table.from_pandas(events, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(events_dir / "events.parquet", table.schema, compression="zstd")
            writer.write_table(table, row_group_size=256_000)
            offers.append(off)
            truth.append(tr)
            progress.update(len(tr))
    finally:
        if writer is not None:
            writer.close()
    progress.done()
    pd.concat(offers, ignore_index=True).to_parquet(events_dir / "offers.parquet", index=False)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(truth_path) as tmp:
        pd.concat(truth, ignore_index=True).to_parquet(tmp, index=False)


def read_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events (every *.jsonl / *.parquet but offers.*) and offers.(jsonl|parquet) of ``folder``."""
    if not folder.is_dir():
        raise BadInputError(f"events_path {folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".jsonl", ".parquet"))
    offer_files = [p for p in files if p.stem == "offers"]
    event_files = [p for p in files if p.stem != "offers"]
    if not event_files or not offer_files:
        raise BadInputError(f"{folder} needs event files (*.jsonl or *.parquet) and offers.jsonl|parquet; "
                             f"found {[p.name for p in files]}")
    events = pd.concat([read_table(p, EVENT_SCHEMA, "events file") for p in event_files], ignore_index=True)
    return events, read_table(offer_files[0], OFFER_SCHEMA, "offers file")


def consume_kafka(cfg: PricingConfig, dest: Path) -> Path:
    """Drain ``kafka_topic`` from the start into JSONL (needs ``pip install kafka-python``).

    Stops after ``kafka_max_messages`` or 10 s without a message; nothing is committed, so
    a failed run can read the same messages again.
    """
    try:
        from kafka import KafkaConsumer
    except ImportError as exc:
        raise BadInputError("source=kafka needs the kafka-python package (pip install kafka-python)") from exc
    consumer = KafkaConsumer(cfg.kafka_topic, bootstrap_servers=cfg.kafka_bootstrap.split(","),
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=10_000,
                             group_id=None, value_deserializer=lambda b: json.loads(b.decode("utf-8")))
    n = 0
    progress = Progress("kafka", unit="messages")
    with open(dest, "w") as out:
        for msg in consumer:
            out.write(json.dumps(msg.value) + "\n")
            n += 1
            progress.update(1)
            if n >= cfg.kafka_max_messages:
                break
    consumer.close()
    progress.done()
    if n == 0:
        raise BadInputError(f"no messages on topic {cfg.kafka_topic!r} at {cfg.kafka_bootstrap}")
    return dest


def run(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Write events, offers (and the synthetic truth) under the run folder."""
    import mlflow

    out = ctx.run_dir / "events"
    truth_path = ctx.run_dir / "truth" / "truth.parquet"
    with atomic_path(out, is_dir=True) as tmp:
        if cfg.source == "synthetic":
            write_synthetic(cfg, tmp, truth_path)
        elif cfg.source == "served":
            from jobs.served import EVENTS_SQL, OFFERS_SQL, export

            export(EVENTS_SQL, tmp / "events.parquet", cfg.served_days, "events")
            export(OFFERS_SQL, tmp / "offers.parquet", cfg.served_days, "offers")
        else:
            folder = Path(cfg.events_path)
            if cfg.source == "kafka":
                staged = consume_kafka(cfg, tmp / "kafka_events.jsonl")
                events, offers = (
                    read_table(staged, EVENT_SCHEMA, f"events of topic {cfg.kafka_topic}, staged in"),
                    read_folder(folder)[1],
                )
                staged.unlink()
            else:
                events, offers = read_folder(folder)
            events.to_parquet(tmp / "events.parquet", index=False)
            offers.to_parquet(tmp / "offers.parquet", index=False)
    rows = pq.ParquetFile(out / "events.parquet").metadata.num_rows
    mlflow.log_params({"source": cfg.source})
    mlflow.log_metrics({"events": rows, "sessions": pq.ParquetFile(out / "offers.parquet").metadata.num_rows})
    log.info("ingest: %d events from %s", rows, cfg.source)
    return {"events_path": str(out / "events.parquet"), "offers_path": str(out / "offers.parquet"),
            "events_sha256": sha256_file(out / "events.parquet"),
            "truth_path": str(truth_path) if cfg.source == "synthetic" else None}
