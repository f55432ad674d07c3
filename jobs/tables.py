"""Reading a user's table (CSV, JSON lines or Parquet) so that every bad input fails before anything is
published, with a message that names the file, the column and the true row.

One reader for every dataset but the Avazu logs (streamed: ``jobs/avazu_ctr/sample.py``): the file's
real format is sniffed (a Parquet file named ``.csv`` says so), text must be UTF-8 (a BOM is accepted,
CRLF line ends too), a header may not name a column twice, a missing column is reported with the
closest name found, and each declared column is converted with its empty cells, wrong types,
non-finite numbers, integers out of range and oversized fields reported at their row. Rows are counted
from 1 for the first data row; text files also give the line (the header is line 1).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.common.errors import BadInputError

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
MAX_TEXT_CHARS = 10_000  # no field of these datasets is longer; a longer one is a broken quote or a wrong file


@dataclass(frozen=True)
class Column:
    """A column of a dataset: ``kind`` is int, float, str, date or timestamp. Business ranges (a price above
    zero) are the expectation suites' job; this is what any value of the kind must be."""

    name: str
    kind: str
    nullable: bool = False
    date_format: str | None = None


class Table:
    """A file read as text cells (or Parquet values) with the numbering of its rows, for error messages."""

    def __init__(self, path: Path, what: str, frame: pd.DataFrame, first_line: int | None) -> None:
        self.path, self.what, self.frame, self.first_line = path, what, frame, first_line

    def where(self, position: int, column: str | None = None) -> str:
        """'<what> <path>, column 'c', row R (line L)' for the row at ``position`` (0-based)."""
        col = f", column {column!r}" if column else ""
        line = "" if self.first_line is None else f" (line {self.first_line + position})"
        return f"{self.what} {self.path}{col}, row {position + 1:,}{line}"


def _sniff(path: Path, what: str) -> str:
    if not path.is_file():
        raise BadInputError(f"{what} {path} does not exist or is not a file")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise BadInputError(f"{what} {path} is empty (0 bytes)")
    actual = "parquet" if head == PARQUET_MAGIC else "gzip" if head[:2] == GZIP_MAGIC else "text"
    named = {".parquet": "parquet", ".gz": "gzip"}.get(path.suffix, "text")
    if actual != named:
        raise BadInputError(f"{what} {path} is a {actual} file, though its name says {named} "
                            f"({path.suffix or 'no suffix'}): rename it or convert it")
    return actual


def _decode(path: Path, what: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # a BOM (Excel's "CSV UTF-8") is accepted and dropped
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        where = f"{what} {path}"
        if path.suffix == ".csv" and line > 1:  # the column by position (quoted commas aside: an error path)
            header = next(csv.reader([raw[:raw.find(b"\n")].decode("utf-8-sig", errors="replace")]))
            i = raw[start:exc.start].count(b",")
            where += f", column {header[i].strip()!r}" if i < len(header) else f", field {i + 1}"
            where += f", row {line - 1:,} (line {line:,})"
        else:
            where += f", line {line:,}"
        raise BadInputError(f"{where}: {raw[exc.start:exc.start + 1]!r} at byte {exc.start - start + 1:,} of the "
                            f"line is not UTF-8; save the file as UTF-8") from None


def check_unique_header(names: Sequence[str], path: Path, what: str) -> None:
    """BadInputError when a header names a column twice (readers would silently keep one copy)."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise BadInputError(f"{what} {path}: column {name!r} appears twice in the header (columns "
                                f"{seen[name] + 1} and {i + 1}); which one holds the data is ambiguous")
        seen[name] = i


def read_rows(path: Path, what: str) -> Table:
    """The file as a Table: CSV and JSON lines as text cells (empty = NA), Parquet as stored."""
    path = Path(path)
    kind = _sniff(path, what)
    if kind == "gzip":
        raise BadInputError(f"{what} {path}: gzip files are not read here; decompress it first")
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow's errors say what, not where: add the file
            raise BadInputError(f"{what} {path}: unreadable Parquet ({exc})") from exc
        check_unique_header(table.column_names, path, what)
        return Table(path, what, table.to_pandas(), None)
    text = _decode(path, what)
    if path.suffix == ".jsonl":
        return Table(path, what, _read_jsonl(text, path, what), 1)
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    if not header:
        raise BadInputError(f"{what} {path}: no header line")
    check_unique_header([h.strip() for h in header], path, what)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, ValueError) as exc:
        raise BadInputError(f"{what} {path}: cannot parse CSV ({exc})") from None
    frame.columns = [c.strip() for c in frame.columns]
    return Table(path, what, frame, 2)


def _read_jsonl(text: str, path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_json(io.StringIO(text), lines=True, dtype=False)
    except ValueError:
        pass
    # Only on failure, to say where: the first line that is not a JSON object.
    for n, line in enumerate(text.splitlines(), start=1):
        try:
            if line.strip() and not isinstance(json.loads(line), dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise BadInputError(f"{what} {path}, line {n:,}: not a JSON object ({exc})") from None
    raise BadInputError(f"{what} {path}: cannot parse JSON lines")


def check_columns(expected: Sequence[str], have: Sequence[str], where: str) -> None:
    """BadInputError naming each missing column, and the file's closest name when it looks misspelled."""
    missing = [name for name in expected if name not in have]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, [h for h in have if h not in expected], n=1, cutoff=0.6)
            hints.append(f"{name!r}" + (f" (the file has {close[0]!r}: misspelled?)" if close else ""))
        raise BadInputError(f"{where}: missing column(s) {', '.join(hints)}; expected {list(expected)}")


def require_columns(table: Table, columns: Sequence[Column]) -> None:
    """:func:`check_columns` for a Table and its declared columns."""
    check_columns([c.name for c in columns], [str(c) for c in table.frame.columns], f"{table.what} {table.path}")


def _fail(table: Table, bad: np.ndarray, column: str, problem: str, values: pd.Series) -> None:
    if bad.any():
        i = int(np.argmax(bad))
        shown = values.iloc[i]
        shown = f"{shown[:40]!r}... ({len(shown):,} characters)" if isinstance(shown, str) and len(shown) > 60 \
            else repr(shown)
        more = f"; {int(bad.sum()) - 1:,} more row(s) like it" if bad.sum() > 1 else ""
        raise BadInputError(f"{table.where(i, column)}: {problem}, found {shown}{more}")


def _convert(table: Table, col: Column) -> pd.Series:
    s = table.frame[col.name]
    empty = s.isna().to_numpy()
    if not col.nullable:
        _fail(table, empty, col.name, "empty cell", s)
    if col.kind == "str":
        text = s.astype("string")
        _fail(table, (text.str.len() > MAX_TEXT_CHARS).fillna(False).to_numpy(), col.name,
              f"a field longer than {MAX_TEXT_CHARS:,} characters", s)
        return text.astype(object).where(~empty, None)
    if col.kind in ("date", "timestamp"):
        if pd.api.types.is_numeric_dtype(s) or s.astype(str).str.fullmatch(r"-?\d+(\.\d+)?").fillna(False).all():
            raise BadInputError(f"{table.where(0, col.name)}: holds numbers, not {col.kind}s "
                                f"(e.g. {s.iloc[0]!r}); write them as text like 2024-01-31")
        parsed = pd.to_datetime(s, format=col.date_format, errors="coerce", utc=col.kind == "timestamp")
        _fail(table, parsed.isna().to_numpy() & ~empty, col.name,
              f"not a {col.kind}" + (f" in the format {col.date_format}" if col.date_format else ""), s)
        return parsed.dt.date if col.kind == "date" else parsed
    num = pd.to_numeric(s, errors="coerce")
    _fail(table, num.isna().to_numpy() & ~empty, col.name, f"not a number ({col.kind} expected)", s)
    values = num.to_numpy(dtype=np.float64, na_value=np.nan)
    _fail(table, np.isinf(values), col.name, "not a finite number", s)
    if col.kind == "int":
        _fail(table, ~empty & ((values % 1 != 0) | (np.abs(values) >= 2.0**53)), col.name,
              "not a whole number in range", s)
    if col.kind == "int" and not empty.any():
        return pd.Series(values.astype(np.int64), index=s.index)
    return pd.Series(values, index=s.index)


def read_table(path: Path, columns: Sequence[Column], what: str) -> pd.DataFrame:
    """The declared ``columns`` of the file at ``path``, converted and checked (others are dropped).

    BadInputError naming the file, the column and the row for anything the conversion cannot take:
    see the module docstring. An empty table (a header and no rows) is refused too.
    """
    table = read_rows(path, what)
    require_columns(table, columns)
    return convert_columns(table, columns)


def convert_columns(table: Table, columns: Sequence[Column]) -> pd.DataFrame:
    """The declared ``columns`` of ``table`` converted and checked; an empty table is refused."""
    if table.frame.empty:
        raise BadInputError(f"{table.what} {table.path}: a header and no rows")
    return pd.DataFrame({c.name: _convert(table, c) for c in columns})
