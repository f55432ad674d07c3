"""What went wrong in an Avazu CSV, and where: Arrow's streaming reader names the column and value of a
bad cell but not its row (it parses a block of rows at a time). Only when a read has failed, the failing
block is read again as raw bytes and searched for the first bad cell, so the message gives the true row.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from models.common.errors import BadInputError

_INT_BOUNDS = {"int8": 2**7, "int16": 2**15, "int32": 2**31, "int64": 2**63}


def _open(path: Path, gz: bool) -> pa.NativeFile:
    raw = pa.OSFile(str(path), "rb")
    return pa.CompressedInputStream(raw, "gzip") if gz else raw


def _bad_cell(value: bytes | None, type_name: str) -> bool:
    if value is None:
        return True
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return True
    if type_name in _INT_BOUNDS:
        try:
            number = int(text)
        except ValueError:
            return True
        return not -_INT_BOUNDS[type_name] <= number < _INT_BOUNDS[type_name]
    return False


def first_bad_row(path: Path, gz: bool, rows_before: int, block_bytes: int, column: str, type_name: str) -> int | None:
    """1-based data row of the first cell of ``column`` after ``rows_before`` that is not valid ``type_name``."""
    read = pacsv.ReadOptions(block_size=block_bytes, skip_rows_after_names=rows_before)
    convert = pacsv.ConvertOptions(column_types={column: pa.binary()}, include_columns=[column])
    with _open(path, gz) as stream:
        batch = pacsv.open_csv(stream, read_options=read, convert_options=convert).read_next_batch()
    # Python over one block (tens of thousands of cells), only after a read already failed.
    for i, value in enumerate(batch.column(0).to_pylist()):
        if _bad_cell(value, type_name):
            return rows_before + i + 1
    return None


def first_long_line(path: Path, gz: bool, limit: int) -> tuple[int, int] | None:
    """(1-based line number, 0-based index of its longest field) of the first line longer than ``limit`` bytes."""
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
        n = 0
        while chunk := f.readline(limit + 1):
            n += 1
            if len(chunk) > limit and not chunk.endswith(b"\n"):
                fields = (chunk + f.readline()).split(b",")
                return n, max(range(len(fields)), key=lambda i: len(fields[i]))
    return None


def explain(exc: Exception, path: Path, rows_before: int, header: list[str], gz: bool,
            block_bytes: int) -> BadInputError:
    """Turn an Arrow parse/convert error into a message naming the file, the column and the true row."""
    msg = str(exc)
    where = f"{path}: after data row {rows_before:,}"
    m = re.search(r"Expected (\d+) columns, got (\d+): (.*)", msg, re.S)
    if m:
        return BadInputError(f"{where}: truncated or malformed row: expected {m[1]} columns, got {m[2]}: "
                             f"{m[3][:200]!r}")
    m = re.search(r"In CSV column #(\d+): .*?conversion error to (\w+): (?:invalid value '([^']*)'|invalid UTF8)",
                  msg, re.S)
    if m:
        col = header[int(m[1])] if int(m[1]) < len(header) else f"#{m[1]}"
        row = first_bad_row(path, gz, rows_before, block_bytes, col, m[2])
        at = where if row is None else f"{path}, row {row:,} (line {row + 1:,})"
        found = "bytes that are not UTF-8" if m[3] is None or "\ufffd" in m[3] else repr(m[3][:60])
        return BadInputError(f"{at}: column {col!r} must be {m[2]}, found {found}")
    if "straddling object" in msg:
        found = first_long_line(path, gz, block_bytes)
        if found is None:
            return BadInputError(f"{where}: a row longer than the read block ({block_bytes:,} bytes)")
        line, field = found
        col = header[field] if field < len(header) else f"#{field}"
        return BadInputError(f"{path}, row {line - 1:,} (line {line:,}): column {col!r} holds a field longer than the "
                             f"read block ({block_bytes:,} bytes): a broken quote, or not an Avazu file")
    if gz and isinstance(exc, OSError):
        return BadInputError(f"{path}: corrupt gzip stream ({msg})")
    return BadInputError(f"{where}: cannot parse CSV: {msg}")
