"""sample: stream a plain or gzip Avazu CSV into a ZSTD Parquet sample plus a manifest.

The CSV is parsed by Arrow block by block (never the whole file in memory), checked
for Avazu's header and types on the way, and written batch by batch. ``first`` keeps
the first N rows; ``random`` keeps a seeded uniform sample of exactly N rows by
bottom-k keys (each row gets a random key, the N smallest win), in file order.
"""

from __future__ import annotations

import gzip
import logging
import queue
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.avazu_ctr.config import AvazuConfig
from jobs.avazu_ctr.csv_errors import explain
from jobs.paths import RunContext, atomic_path, sha256_file, write_json
from jobs.progress import Progress
from jobs.tables import PARQUET_MAGIC, check_columns, check_unique_header
from models.common.errors import BadInputError
from models.ctr.synth import AVAZU_COLUMNS, RAW_SCHEMA

log = logging.getLogger(__name__)

ROW_GROUP_ROWS = 128_000
BLOCK_BYTES = 2 << 20  # small blocks keep peak RSS flat (~270 MB) at any input size
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class SampleSpec:
    """What to keep: ``rows`` (0 = all), ``mode`` first|random, ``seed``."""

    rows: int = 0
    mode: str = "first"
    seed: int = 0


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def _read_header(path: Path, gz: bool) -> list[str]:
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            raw = f.readline()
        # utf-8-sig: a BOM (Excel's "CSV UTF-8") is dropped from the first column's name.
        line = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}, line 1 (the header): byte {exc.start + 1} is not UTF-8") from None
    except (OSError, EOFError, zlib.error) as exc:
        kind = "corrupt gzip file" if gz else "unreadable file"
        raise BadInputError(f"{path}: {kind}: {exc}") from exc
    if not line.strip():
        raise BadInputError(f"{path}: empty file (no header line)")
    return [c.strip().strip('"') for c in line.strip().split(",")]


def check_header(path: Path, header: list[str]) -> None:
    """Raise :class:`BadInputError` naming every missing Avazu column, or one the header names twice."""
    check_unique_header(header, path, "Avazu CSV")
    check_columns(AVAZU_COLUMNS, header, f"Avazu CSV {path}")
    extra = [c for c in header if c not in AVAZU_COLUMNS]
    if extra:
        log.warning("%s: ignoring extra column(s) %s", path, extra)


def _refuse_nulls(batch: pa.RecordBatch, src: Path, rows_before: int) -> None:
    """An empty numeric cell reads as null: refuse it at its row (a click or hour cannot be unknown)."""
    for name, column in zip(batch.schema.names, batch.columns):
        if column.null_count:
            row = rows_before + int(np.argmax(column.is_null().to_numpy(zero_copy_only=False))) + 1
            raise BadInputError(f"{src}, row {row:,} (line {row + 1:,}): column {name!r} is empty")


class _ParquetSink:
    """ZSTD Parquet writer fed from a bounded queue by a background thread.

    Arrow releases the GIL while encoding and compressing, so writing one batch overlaps
    with parsing the next; the queue bound keeps memory flat.
    """

    def __init__(self, path: Path) -> None:
        no_dict = {"id"}  # unique per row: a dictionary only costs time
        self._writer = pq.ParquetWriter(
            str(path), RAW_SCHEMA, compression="zstd",
            use_dictionary=[f.name for f in RAW_SCHEMA if f.name not in no_dict],
        )
        self._queue: queue.Queue[pa.RecordBatch | pa.Table | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="parquet-sink", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        pending: list[pa.RecordBatch] = []
        rows = 0
        while True:
            item = self._queue.get()
            if item is not None:
                batches = item.to_batches() if isinstance(item, pa.Table) else [item]
                pending += batches
                rows += sum(b.num_rows for b in batches)
            # Parse blocks are small; gather them into row groups of ROW_GROUP_ROWS for readers.
            if pending and (item is None or rows >= ROW_GROUP_ROWS) and self._error is None:
                try:
                    self._writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP_ROWS)
                except BaseException as exc:  # surfaced by put()/close()
                    self._error = exc
                pending, rows = [], 0
            if item is None:
                return

    def put(self, item: pa.RecordBatch | pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error


class _BottomK:
    """Keeps the ``k`` rows with the smallest random keys seen so far (a uniform sample)."""

    def __init__(self, k: int, seed: int) -> None:
        self.k, self.rng = k, np.random.default_rng(seed)
        self.table: pa.Table | None = None
        self.keys = np.empty(0)
        self.order = np.empty(0, dtype=np.int64)

    def add(self, batch: pa.RecordBatch, first_row: int) -> None:
        keys = self.rng.random(batch.num_rows)
        tbl = pa.Table.from_batches([batch])
        self.table = tbl if self.table is None else pa.concat_tables([self.table, tbl])
        self.keys = np.concatenate([self.keys, keys])
        self.order = np.concatenate([self.order, np.arange(first_row, first_row + batch.num_rows)])
        if len(self.keys) > 2 * self.k:
            self._shrink()

    def _shrink(self) -> None:
        keep = (
            np.sort(np.argpartition(self.keys, self.k - 1)[: self.k])
            if len(self.keys) > self.k
            else np.arange(len(self.keys))
        )
        self.table = self.table.take(pa.array(keep)).combine_chunks()  # type: ignore[union-attr]
        self.keys, self.order = self.keys[keep], self.order[keep]

    def result(self) -> pa.Table | None:
        if self.table is None:
            return None
        self._shrink()
        return self.table


def sample_csv(src: Path, dest: Path, spec: SampleSpec) -> dict[str, Any]:
    """Stream ``src`` (plain or gzip CSV in Avazu's schema) into ZSTD Parquet at ``dest``.

    Returns the manifest (rows, bytes, schema, sha256, ...). Raises
    :class:`BadInputError` for an empty file, a truncated row, a missing column, a
    value of the wrong type or a corrupt gzip; ``dest`` is then left as it was.
    """
    src = Path(src)
    if not src.is_file():
        raise BadInputError(f"{src}: no such file")
    size = src.stat().st_size
    if size == 0:
        raise BadInputError(f"{src}: empty file (0 bytes)")
    with open(src, "rb") as f:
        if f.read(4) == PARQUET_MAGIC:
            raise BadInputError(f"{src} is a Parquet file, not a CSV: pass the CSV (or gzip CSV) Kaggle ships")
    gz = _is_gzip(src)
    header = _read_header(src, gz)
    check_header(src, header)

    raw = pa.OSFile(str(src), "rb")
    stream = pa.CompressedInputStream(raw, "gzip") if gz else raw
    convert = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in RAW_SCHEMA},
        include_columns=list(AVAZU_COLUMNS),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    progress = Progress(f"sample {src.name}", total=size, unit="bytes")
    rows_in = rows_out = 0
    bottom = _BottomK(spec.rows, spec.seed) if spec.mode == "random" and spec.rows > 0 else None
    with atomic_path(dest) as tmp:
        writer = _ParquetSink(tmp)
        try:
            reader = pacsv.open_csv(
                stream, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES), convert_options=convert
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, OSError) as exc:
                    raise explain(exc, src, rows_in, header, gz, BLOCK_BYTES) from exc
                _refuse_nulls(batch, src, rows_in)
                if bottom is not None:
                    bottom.add(batch, rows_in)
                else:
                    if spec.rows and rows_out + batch.num_rows > spec.rows:
                        batch = batch.slice(0, spec.rows - rows_out)
                    writer.put(batch)
                    rows_out += batch.num_rows
                rows_in += batch.num_rows
                progress.set(raw.tell())
                if bottom is None and spec.rows and rows_out >= spec.rows:
                    break
        except (pa.ArrowInvalid, OSError) as exc:
            raise explain(exc, src, rows_in, header, gz, BLOCK_BYTES) from exc
        finally:
            if bottom is not None and (kept := bottom.result()) is not None and kept.num_rows:
                writer.put(kept)
                rows_out = kept.num_rows
            writer.close()
            raw.close()
        if rows_out == 0:
            raise BadInputError(f"{src}: no data rows after the header")
    elapsed = progress.done()
    return {
        "rows": rows_out,
        "rows_read": rows_in,
        "input_path": str(src),
        "input_bytes": size,
        "input_compression": "gzip" if gz else "none",
        "seconds": round(elapsed, 3),
        "mode": spec.mode,
        "requested_rows": spec.rows,
        "seed": spec.seed,
        "schema": {f.name: str(f.type) for f in RAW_SCHEMA},
        "compression": "zstd",
        "sha256": sha256_file(dest),
    }


def run(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Sample ``state['raw_path']`` into ``<run>/sample/train.parquet`` with ``manifest.json``."""
    out_dir = ctx.run_dir / "sample"
    with atomic_path(out_dir, is_dir=True) as tmp:  # Parquet and manifest appear together
        spec = SampleSpec(cfg.sample_rows, cfg.sample_mode, cfg.seed)
        manifest = sample_csv(Path(state["raw_path"]), tmp / "train.parquet", spec)
        manifest["source"] = state["source"]
        write_json(tmp / "manifest.json", manifest)
    dest = out_dir / "train.parquet"
    log.info("sample: %s rows -> %s (%.1f MB)", f"{manifest['rows']:,}", dest, dest.stat().st_size / 1e6)
    return {**state, "sample_path": str(dest), "sample_manifest": str(out_dir / "manifest.json"),
            "sample_rows": manifest["rows"], "sample_sha256": manifest["sha256"]}
