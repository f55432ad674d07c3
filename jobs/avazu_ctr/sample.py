"""sample: stream a plain or gzip Avazu CSV into a ZSTD Parquet sample plus a manifest.

The CSV is parsed by Arrow block by block (never the whole file in memory), checked
for Avazu's header and types on the way, and written batch by batch. ``first`` keeps
the first N rows; ``random`` keeps a seeded uniform sample of exactly N rows by
bottom-k keys (each row gets a random key, the N smallest win), in file order.

The random sample takes two passes so that no sampled row is ever held: the first
counts the rows (a multi-threaded parse of one column), then draws their keys in chunks
keeping only the smallest (at most 2N floats: 160 MB for N = 10M), which gives the N-th
smallest key; the second draws the same keys again and streams the rows at or below it to Parquet. Peak
memory does not grow with N's rows or the file, and the sample equals the single-pass
definition exactly.
"""

from __future__ import annotations

import gzip
import logging
import time
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
from jobs.background import BackgroundWriter
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
    """ZSTD Parquet writer on a background thread (:class:`jobs.background.BackgroundWriter`): encoding one
    batch overlaps with parsing the next. Parse blocks are small; they are gathered into row groups of
    ``ROW_GROUP_ROWS`` for readers."""

    def __init__(self, path: Path) -> None:
        no_dict = {"id"}  # unique per row: a dictionary only costs time
        self._writer = pq.ParquetWriter(
            str(path), RAW_SCHEMA, compression="zstd",
            use_dictionary=[f.name for f in RAW_SCHEMA if f.name not in no_dict],
        )
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0
        self._thread = BackgroundWriter(self._add, self._write_pending, "parquet-sink")

    def _add(self, item: pa.RecordBatch | pa.Table) -> None:
        batches = item.to_batches() if isinstance(item, pa.Table) else [item]
        self._pending += batches
        self._rows += sum(b.num_rows for b in batches)
        if self._rows >= ROW_GROUP_ROWS:
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending), row_group_size=ROW_GROUP_ROWS)
        self._pending, self._rows = [], 0

    def put(self, item: pa.RecordBatch | pa.Table) -> None:
        self._thread.put(item)

    def close(self) -> None:
        try:
            self._thread.close()
        finally:
            self._writer.close()


class _Cut:
    """The selection of a random sample: keys below ``key`` are in, and the first ``ties`` rows whose key
    equals it (floats tie with probability ~0, but the sample must hold exactly N rows)."""

    def __init__(self, key: float, ties: int) -> None:
        self.key, self.ties = key, ties

    def mask(self, keys: np.ndarray) -> np.ndarray:
        keep = keys < self.key
        at = np.flatnonzero(keys == self.key)
        if at.size and self.ties > 0:
            keep[at[: self.ties]] = True
            self.ties -= min(self.ties, at.size)
        return keep


def _count_rows(src: Path, gz: bool, header: list[str]) -> int:
    """Pass 1's row count: Arrow's multi-threaded reader over the whole file, converting only ``click`` (the
    result is one byte per row). A file it cannot parse is read again block by block, which names the row."""
    log.info("sample %s (pass 1 of 2): counting rows", src.name)
    t0 = time.monotonic()
    only_click = pacsv.ConvertOptions(column_types={"click": pa.int8()}, include_columns=["click"])
    raw = pa.OSFile(str(src), "rb")
    try:
        stream = pa.CompressedInputStream(raw, "gzip") if gz else raw
        rows = pacsv.read_csv(stream, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES * 4),
                              convert_options=only_click).num_rows
    except (pa.ArrowInvalid, OSError):
        rows = sum(b.num_rows for b in _batches(src, gz, header, only_click, f"sample {src.name} (pass 1 of 2)"))
    finally:
        raw.close()
    log.info("sample %s (pass 1 of 2): %s rows in %.1f s", src.name, f"{rows:,}", time.monotonic() - t0)
    return rows


def _bottom_k_cut(rows: int, k: int, seed: int, chunk: int = 1 << 22) -> _Cut | None:
    """The key of the k-th smallest of ``rows`` keys drawn in file order from the seed's generator (None when
    there are at most k rows: keep all), holding at most 2k keys at a time. The draws do not depend on how
    they are chunked, so pass 2 can draw them again batch by batch."""
    if rows <= k:
        return None
    rng = np.random.default_rng(seed)
    kept = np.empty(0)
    for start in range(0, rows, chunk):  # a loop over chunks of keys, each drawn at once
        kept = np.concatenate([kept, rng.random(min(chunk, rows - start))])
        if len(kept) > 2 * k:
            kept = np.partition(kept, k - 1)[:k]
    key = float(np.partition(kept, k - 1)[k - 1])
    return _Cut(key, k - int((kept < key).sum()))


def _batches(src: Path, gz: bool, header: list[str], convert: pacsv.ConvertOptions, label: str) -> Any:
    """The CSV's record batches, block by block, with a progress line; a parse error names its row."""
    raw = pa.OSFile(str(src), "rb")
    stream = pa.CompressedInputStream(raw, "gzip") if gz else raw
    progress = Progress(label, total=src.stat().st_size, unit="bytes")
    rows = 0
    try:
        reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                                convert_options=convert)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            progress.set(raw.tell())
            yield batch
            rows += batch.num_rows
        progress.done()
    except GeneratorExit:  # the caller has what it needs (first N rows)
        progress.done()
        raise
    except (pa.ArrowInvalid, OSError) as exc:
        raise explain(exc, src, rows, header, gz, BLOCK_BYTES) from exc
    finally:
        raw.close()


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
    started = time.monotonic()

    convert = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in RAW_SCHEMA},
        include_columns=list(AVAZU_COLUMNS),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    cut, counted, rows_in, rows_out = None, 0, 0, 0
    if spec.mode == "random" and spec.rows > 0:
        counted = _count_rows(src, gz, header)
        cut = _bottom_k_cut(counted, spec.rows, spec.seed)
    keys = np.random.default_rng(spec.seed) if spec.mode == "random" and spec.rows > 0 else None
    with atomic_path(dest) as tmp:
        writer = _ParquetSink(tmp)
        try:
            label = f"sample {src.name}" + (" (pass 2 of 2: rows)" if keys is not None else "")
            for batch in _batches(src, gz, header, convert, label):
                _refuse_nulls(batch, src, rows_in)
                if keys is not None:
                    drawn = keys.random(batch.num_rows)
                    batch = batch if cut is None else batch.filter(pa.array(cut.mask(drawn)))
                elif spec.rows and rows_out + batch.num_rows > spec.rows:
                    batch = batch.slice(0, spec.rows - rows_out)
                rows_in += batch.num_rows if keys is None else len(drawn)
                if batch.num_rows:
                    writer.put(batch)
                rows_out += batch.num_rows
                if keys is None and spec.rows and rows_out >= spec.rows:
                    break
        finally:
            writer.close()
        if rows_out == 0:
            raise BadInputError(f"{src}: no data rows after the header")
        if keys is not None and rows_in != counted:
            raise BadInputError(f"{src} changed while it was sampled: {counted:,} rows on the first pass, "
                                f"{rows_in:,} on the second")
    return {
        "rows": rows_out,
        "rows_read": rows_in,
        "input_path": str(src),
        "input_bytes": size,
        "input_compression": "gzip" if gz else "none",
        "seconds": round(time.monotonic() - started, 3),
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
