"""The bad-input corpus: for every dataset a user brings (Avazu CSV, clickstream events and offers, MMM
weekly, budget facts, banner logs), each case either reads exactly as the clean file does (BOM, CRLF) or
fails with a BadInputError that names the file, the column and the true row (and nothing is published)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.common.errors import BadInputError
from tests.conftest import AVAZU_HEAD, SHARED

ROW = 6  # the data row (0-based) every cell-level case damages: reported as row 7, line 8


@dataclass(frozen=True)
class Dataset:
    """A clean CSV of the dataset and the platform's reader for it, with a column of each kind to damage."""

    name: str
    clean: Callable[[Path], Path]  # writes the clean file under a folder, returns its path
    read: Callable[[Path], pd.DataFrame]
    text_col: str
    num_col: str
    int_col: str | None = None
    date_col: str | None = None


def _facts(folder: Path) -> Path:
    days = pd.date_range("2024-03-01", periods=5).strftime("%Y-%m-%d")
    df = pd.DataFrame({"day": np.repeat(days, 3), "segment_key": np.tile(["a|x", "b|x", "c|y"], 5),
                       "clicks": np.arange(15) * 10 + 5, "conv": np.arange(15), "spent": np.arange(15) * 2.5 + 1})
    df.to_csv(folder / "facts.csv", index=False)
    return folder / "facts.csv"


def _copy_head(src: Path, rows: int) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        lines = src.read_text().splitlines()[: rows + 1]
        (folder / src.name).write_text("\n".join(lines) + "\n")
        return folder / src.name
    return write


def _read_facts(path: Path) -> pd.DataFrame:
    from jobs.budget_bandits.facts import read_facts

    return read_facts(path)


def _read_weekly(path: Path) -> pd.DataFrame:
    from jobs.mmm.data import read_weekly

    return read_weekly(path)


def _read_obd(path: Path) -> pd.DataFrame:
    from jobs.banner_bandit_eval.config import load
    from jobs.banner_bandit_eval.logs import read_obd

    return read_obd(path, "random", load("smoke"))


def _read_avazu(path: Path) -> pd.DataFrame:
    from jobs.avazu_ctr.sample import SampleSpec, sample_csv

    sample_csv(path, path.with_suffix(".parquet"), SampleSpec())
    return pd.read_parquet(path.with_suffix(".parquet"))


DATASETS = [
    Dataset("budget facts", _facts, _read_facts, "segment_key", "spent", "clicks", "day"),
    Dataset("mmm weekly", _copy_head(SHARED / "data" / "mmm" / "geoindia_head.csv", 9), _read_weekly, "Geo",
            "TV_Impressions"),
    Dataset("banner log", _copy_head(SHARED / "data" / "obd" / "random" / "all.csv", 200), _read_obd, "timestamp",
            "propensity_score", "item_id"),
    Dataset("avazu csv", _copy_head(AVAZU_HEAD, 300), _read_avazu, "site_id", "click", "banner_pos"),
]


def _split(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    return lines[0].split(","), [line.split(",") for line in lines[1:]]


def _join(header: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


def _set(path: Path, col: str, value: str) -> bytes:
    header, rows = _split(path)
    rows[ROW][header.index(col)] = value
    return _join(header, rows)


def _duplicate(path: Path, col: str) -> bytes:
    header, rows = _split(path)
    i = header.index(col)
    return _join([*header, col], [[*r, r[i]] for r in rows])


def _misspell(path: Path, col: str) -> bytes:
    header, rows = _split(path)
    i = header.index(col)
    header[i] = col[:2] + col[3] + col[2] + col[4:]  # two letters swapped
    return _join(header, rows)


def _bad_byte(path: Path, col: str) -> bytes:
    return _set(path, col, "PLACEHOLDER").replace(b"PLACEHOLDER", b"ab\xffcd")


def _integer_days(path: Path, col: str) -> bytes:
    header, rows = _split(path)
    i = header.index(col)
    return _join(header, [[*r[:i], "20240301", *r[i + 1:]] for r in rows])


# (case, damage(path, dataset) -> the bad file's bytes (None: the dataset has no such column), the column the
# message must name (an attribute of Dataset) and at the damaged row, or what else it must say; no column and
# no message: the file must read exactly as the clean one)
CASES: list[tuple[str, Callable[[Path, Dataset], bytes | None], str | None, str]] = [
    ("utf-8 BOM", lambda p, d: b"\xef\xbb\xbf" + p.read_bytes(), None, ""),
    ("CRLF line ends", lambda p, d: p.read_bytes().replace(b"\n", b"\r\n"), None, ""),
    ("a byte that is not UTF-8", lambda p, d: _bad_byte(p, d.text_col), "text_col", "UTF-8"),
    ("an empty number", lambda p, d: _set(p, d.num_col, ""), "num_col", "empty"),
    ("an infinite number", lambda p, d: _set(p, d.num_col, "inf"), "num_col", ""),
    ("a word for a number", lambda p, d: _set(p, d.num_col, "12x"), "num_col", "12x"),
    ("an integer out of range", lambda p, d: d.int_col and _set(p, d.int_col, "9" * 23), "int_col", ""),
    ("a 10 MB field", lambda p, d: _set(p, d.text_col, "x" * 10_000_000), "text_col", ""),
    ("a day written as an integer", lambda p, d: d.date_col and _integer_days(p, d.date_col), None,
     r"column '{date_col}'.*holds numbers, not dates"),
    ("a duplicated column", lambda p, d: _duplicate(p, d.num_col), None, r"column '{num_col}' appears twice"),
    ("a misspelled column", lambda p, d: _misspell(p, d.num_col), None, r"missing column\(s\) '{num_col}'.*misspelled"),
    ("a header and no rows", lambda p, d: p.read_bytes().split(b"\n")[0] + b"\n", None, "no rows|no data rows"),
    ("Parquet named .csv", lambda p, d: _as_parquet(p), None, "[Pp]arquet file"),
]


def _as_parquet(path: Path) -> bytes:
    out = path.with_name("as.parquet")
    pd.read_csv(path).to_parquet(out)
    return out.read_bytes()


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: d.name)
@pytest.mark.parametrize(("case", "damage", "column", "says"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_corpus(tmp_path: Path, dataset: Dataset, case: str, damage, column: str | None, says: str) -> None:
    clean = dataset.clean(tmp_path)
    data = damage(clean, dataset)
    if not data:
        pytest.skip(f"{dataset.name} has no column of that kind")
    bad = tmp_path / "bad" / clean.name
    bad.parent.mkdir()
    bad.write_bytes(data)
    if column is None and not says:
        pd.testing.assert_frame_equal(dataset.read(bad), dataset.read(clean))
        return
    with pytest.raises(BadInputError) as err:
        dataset.read(bad)
    text = str(err.value)
    assert str(bad) in text, text  # the file
    if column:  # the column and the true row
        assert f"column '{getattr(dataset, column)}'" in text, text[:400]
        assert f"row {ROW + 1} (line {ROW + 2})" in text, text[:400]
    assert re.search(says.format(**vars(dataset)), text), f"{case}: {text[:400]}"
    assert len(text) < 2000, "a message must not carry a huge field"


def _offers() -> list[dict]:
    return [{"sessionId": f"s{i}", "productId": 100 + i, "category": "toys", "rating": 4.0, "list_price": 20.0 + i,
             "offer_price": 19.5 + i, "purchased": i % 2} for i in range(12)]


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()  # json writes NaN / Infinity as JS does


def _with(field: str, value: object) -> list[dict]:
    records = _offers()
    records[ROW][field] = value
    return records


JSONL_WHERE = f"row {ROW + 1} (line {ROW + 1})"
# (case, the bad offers file's name and bytes, what the message must say; "" = reads as the clean file)
JSONL_CASES: list[tuple[str, str, Callable[[], bytes], str]] = [
    ("utf-8 BOM", "offers.jsonl", lambda: b"\xef\xbb\xbf" + _jsonl(_offers()), ""),
    ("CRLF line ends", "offers.jsonl", lambda: _jsonl(_offers()).replace(b"\n", b"\r\n"), ""),
    ("a byte that is not UTF-8", "offers.jsonl",
     lambda: _jsonl(_with("category", "PLACEHOLDER")).replace(b"PLACEHOLDER", b"to\xffys"), f"line {ROW + 1}.*UTF-8"),
    ("a NaN offer price", "offers.jsonl", lambda: _jsonl(_with("offer_price", float("nan"))),
     f"column 'offer_price', {re.escape(JSONL_WHERE)}: empty cell"),
    ("a NaN offer price in Parquet", "offers.parquet",
     lambda: _parquet_bytes(pd.DataFrame(_with("offer_price", float("nan")))),
     f"column 'offer_price', row {ROW + 1}: empty cell"),
    ("an infinite price", "offers.jsonl", lambda: _jsonl(_with("list_price", float("inf"))),
     f"column 'list_price', {re.escape(JSONL_WHERE)}: not a finite number"),
    ("a word for a number", "offers.jsonl", lambda: _jsonl(_with("rating", "four")),
     f"column 'rating', {re.escape(JSONL_WHERE)}: not a number"),
    ("a missing session", "offers.jsonl", lambda: _jsonl(_with("sessionId", None)),
     f"column 'sessionId', {re.escape(JSONL_WHERE)}: empty cell"),
    ("a 10 MB field", "offers.jsonl", lambda: _jsonl(_with("category", "x" * 10_000_000)),
     f"column 'category', {re.escape(JSONL_WHERE)}: a field longer than"),
    ("a misspelled key", "offers.jsonl",
     lambda: _jsonl([{("offer_prcie" if k == "offer_price" else k): v for k, v in r.items()} for r in _offers()]),
     r"missing column\(s\) 'offer_price' \(the file has 'offer_prcie': misspelled\?\)"),
    ("a line that is not JSON", "offers.jsonl",
     lambda: _jsonl(_offers()).replace(b'{"sessionId": "s6"', b'{"sessionId": s6'), f"line {ROW + 1}: not a JSON"),
    ("an empty file", "offers.jsonl", lambda: b"", "is empty"),
    ("Parquet named .jsonl", "offers.jsonl", lambda: _parquet_bytes(pd.DataFrame(_offers())), "is a parquet file"),
]


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    df.to_parquet(buf)
    return buf.getvalue()


@pytest.mark.parametrize(("case", "name", "make", "says"), JSONL_CASES, ids=[c[0] for c in JSONL_CASES])
def test_clickstream_offers_corpus(tmp_path: Path, case: str, name: str, make, says: str) -> None:
    from jobs.pricing_models.ingest import OFFER_SCHEMA
    from jobs.tables import read_table

    clean = tmp_path / "offers.jsonl"
    clean.write_bytes(_jsonl(_offers()))
    bad = tmp_path / "bad" / name
    bad.parent.mkdir()
    bad.write_bytes(make())
    if not says:
        pd.testing.assert_frame_equal(read_table(bad, OFFER_SCHEMA, "offers file"),
                                      read_table(clean, OFFER_SCHEMA, "offers file"))
        return
    with pytest.raises(BadInputError) as err:
        read_table(bad, OFFER_SCHEMA, "offers file")
    text = str(err.value)
    assert str(bad) in text and re.search(says, text), f"{case}: {text[:400]}"
    assert len(text) < 2000


@pytest.mark.parametrize(("pipeline", "overrides", "says"), [
    # An inf spend used to pass and crash deep in the simulator (ZeroDivisionError).
    ("budget_bandits", lambda d: {"source": "local", "local_path": str(_write(d / "facts.csv", _set(
        _facts(d), "spent", "inf")))}, r"column 'spent', row 7 \(line 8\): not a finite number"),
    # A NaN offer price used to pass both suites and fail later with a TypeError.
    ("pricing_models", lambda d: {"source": "files", "events_path": str(_offers_folder(d))},
     r"column 'offer_price', row 7 \(line 7\): empty cell"),
])
def test_a_bad_file_fails_the_run_before_anything_is_written(platform_env: Path, pipeline: str, overrides,
                                                               says: str) -> None:
    import mlflow

    from jobs.runner import run_pipeline

    with pytest.raises(BadInputError, match=says):
        run_pipeline(pipeline, "smoke", overrides(platform_env), run_id="bad")
    assert not (platform_env / "data" / pipeline / "runs" / "bad").exists() or not any(
        p.is_file() for p in (platform_env / "data" / pipeline / "runs" / "bad").rglob("*"))
    (run,) = mlflow.search_runs(experiment_names=[pipeline], output_format="list",
                                filter_string="tags.`platform.role` = 'dag_run'")
    assert run.info.status == "FAILED" and run.data.tags["failure.kind"] == "bad_input"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _offers_folder(root: Path) -> Path:
    folder = root / "clickstream"
    folder.mkdir()
    events = [{"sessionId": f"s{i}", "userId": f"u{i}", "experimentId": "xp", "eventType": "product_view",
               "productId": 100 + i, "category": "toys", "price": 20.0, "timestamp": 1_700_000_000_000 + i,
               "userAgent": "Mozilla/5.0", "referrer": "", "pageDepth": 1, "scrollDepth": 0.5} for i in range(12)]
    _write(folder / "events.jsonl", _jsonl(events))
    _write(folder / "offers.jsonl", _jsonl(_with("offer_price", float("nan"))))
    return folder
