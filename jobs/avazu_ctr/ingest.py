"""ingest: get Avazu's ``train`` file from Kaggle, a local path, or the synthetic generator."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.avazu_ctr.config import AvazuConfig
from jobs.kaggle import download_file, resolve_source
from jobs.paths import RunContext, atomic_path
from jobs.progress import Progress
from models.common.errors import BadInputError
from models.ctr.synth import SynthConfig, generate_chunks

log = logging.getLogger(__name__)


def write_synthetic(cfg: AvazuConfig, out_dir: Path, chunk_rows: int = 500_000) -> tuple[Path, Path]:
    """Write ``cfg.synthetic_rows`` synthetic rows as ``train.csv`` plus ``ground_truth.parquet``.

    Both files appear atomically; memory is bounded by ``chunk_rows``.
    """
    csv_path, truth_path = out_dir / "train.csv", out_dir / "ground_truth.parquet"
    progress = Progress("synthetic", total=cfg.synthetic_rows, unit="rows")
    with atomic_path(csv_path) as tmp_csv, atomic_path(truth_path) as tmp_truth:
        writer: pacsv.CSVWriter | None = None
        truth_writer: pq.ParquetWriter | None = None
        try:
            for table, p in generate_chunks(SynthConfig(seed=cfg.seed), cfg.synthetic_rows, chunk_rows):
                if writer is None:
                    opts = pacsv.WriteOptions(quoting_style="none")
                    writer = pacsv.CSVWriter(str(tmp_csv), table.schema, write_options=opts)
                writer.write_table(table)
                truth = pa.table({"id": table["id"], "p_click": pa.array(p.astype(np.float64))})
                if truth_writer is None:
                    truth_writer = pq.ParquetWriter(str(tmp_truth), truth.schema, compression="zstd")
                truth_writer.write_table(truth)
                progress.update(table.num_rows)
        finally:
            if writer is not None:
                writer.close()
            if truth_writer is not None:
                truth_writer.close()
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
