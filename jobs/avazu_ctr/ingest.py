"""ingest: get Avazu's ``train`` file from Kaggle, a local path, or the synthetic generator."""

from __future__ import annotations

import contextlib
import gzip
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.avazu_ctr.config import AvazuConfig
from jobs.background import BackgroundWriter
from jobs.kaggle import download_file, resolve_source
from jobs.paths import RunContext, atomic_path
from jobs.progress import Progress
from models.common.errors import BadInputError
from models.ctr.synth import SynthConfig, generate_chunks

log = logging.getLogger(__name__)


def write_synthetic(cfg: AvazuConfig, out_dir: Path, chunk_rows: int = 500_000,
                    gzip_copy: bool = False) -> tuple[Path, Path]:
    """Write ``cfg.synthetic_rows`` synthetic rows as ``train.csv`` plus ``ground_truth.parquet`` (and, with
    ``gzip_copy``, the same CSV as ``train.gz``, as Kaggle ships it).

    The files appear atomically; memory is bounded by ``chunk_rows``. The gzip copy is compressed on a
    thread of its own (zlib releases the GIL), so it overlaps with generating the next chunk.
    """
    csv_path, truth_path, gz_path = out_dir / "train.csv", out_dir / "ground_truth.parquet", out_dir / "train.gz"
    progress = Progress("synthetic", total=cfg.synthetic_rows, unit="rows")
    with atomic_path(csv_path) as tmp_csv, atomic_path(truth_path) as tmp_truth, \
            (atomic_path(gz_path) if gzip_copy else contextlib.nullcontext(None)) as tmp_gz:
        gz: BackgroundWriter | None = None
        if tmp_gz is not None:
            gz_file = gzip.open(tmp_gz, "wb", compresslevel=6)
            gz = BackgroundWriter(lambda data: gz_file.write(memoryview(data)), gz_file.close, "gzip-sink", depth=4)
        truth_writer: pq.ParquetWriter | None = None
        try:
            with open(tmp_csv, "wb") as plain:
                header = True
                for table, p in generate_chunks(SynthConfig(seed=cfg.seed), cfg.synthetic_rows, chunk_rows):
                    buf = pa.BufferOutputStream()
                    pacsv.write_csv(table, buf, pacsv.WriteOptions(quoting_style="none", include_header=header))
                    data = buf.getvalue()
                    plain.write(data)
                    if gz is not None:
                        gz.put(data)
                    header = False
                    truth = pa.table({"id": table["id"], "p_click": pa.array(p.astype(np.float64))})
                    if truth_writer is None:
                        truth_writer = pq.ParquetWriter(str(tmp_truth), truth.schema, compression="zstd")
                    truth_writer.write_table(truth)
                    progress.update(table.num_rows)
        finally:
            if truth_writer is not None:
                truth_writer.close()
            if gz is not None:
                gz.close()
    progress.done()
    return csv_path, truth_path


def run(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Produce the raw ``train`` file; returns ``raw_path``, ``source`` and ``ground_truth_path``."""
    t0 = time.time()
    source = resolve_source(cfg.source)
    raw_dir = ctx.run_dir / "raw"
    truth: Path | None = None
    if source == "kaggle":
        raw = download_file("competition", cfg.kaggle_competition, cfg.kaggle_file, raw_dir)
    elif source == "local":
        raw = Path(cfg.local_path).expanduser().resolve()
        if not raw.is_file():
            raise BadInputError(f"source=local: {raw} does not exist or is not a file")
    else:
        raw, truth = write_synthetic(cfg, raw_dir)
    log.info("ingest: %s (%s, %.1f MB) in %.1f s", raw, source, raw.stat().st_size / 1e6, time.time() - t0)
    return {
        **(state or {}),
        "source": source,
        "raw_path": str(raw),
        "ground_truth_path": str(truth) if truth else None,
    }
