"""The streaming sampler: first-N, seeded random N, gzip, manifest, and each bad input."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from jobs.avazu_ctr.sample import SampleSpec, sample_csv
from models.common.errors import BadInputError
from tests.conftest import AVAZU_HEAD, needs_shared


def test_first_n_keeps_file_order(synthetic_csv: tuple[Path, Path], tmp_path: Path) -> None:
    src, _ = synthetic_csv
    manifest = sample_csv(src, tmp_path / "s.parquet", SampleSpec(rows=1234))
    got = pd.read_parquet(tmp_path / "s.parquet")
    want = pd.read_csv(src, nrows=1234, dtype={"id": str})
    assert manifest["rows"] == 1234 and len(got) == 1234
    assert got["id"].tolist() == want["id"].tolist()
    assert pq.ParquetFile(tmp_path / "s.parquet").metadata.row_group(0).column(0).compression == "ZSTD"
    assert len(manifest["sha256"]) == 64 and manifest["schema"]["id"] == "string"


def test_random_sample_is_exact_seeded_and_in_file_order(synthetic_csv: tuple[Path, Path], tmp_path: Path) -> None:
    src, _ = synthetic_csv
    a = sample_csv(src, tmp_path / "a.parquet", SampleSpec(rows=500, mode="random", seed=1))
    b = sample_csv(src, tmp_path / "b.parquet", SampleSpec(rows=500, mode="random", seed=1))
    c = sample_csv(src, tmp_path / "c.parquet", SampleSpec(rows=500, mode="random", seed=2))
    assert a["rows"] == 500 and a["sha256"] == b["sha256"] != c["sha256"]
    ids = pd.read_parquet(tmp_path / "a.parquet")["id"]
    order = pd.read_csv(src, usecols=["id"], dtype={"id": str})["id"].reset_index().set_index("id")["index"]
    positions = order.loc[ids].to_numpy()
    assert (positions[1:] > positions[:-1]).all()  # file order kept
    assert positions.max() > 10_000  # drawn from the whole file, not the head


def test_gzip_input_gives_the_same_rows(synthetic_csv: tuple[Path, Path], tmp_path: Path) -> None:
    src, _ = synthetic_csv
    gz = tmp_path / "train.gz"
    with open(src, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    plain = sample_csv(src, tmp_path / "p.parquet", SampleSpec())
    zipped = sample_csv(gz, tmp_path / "z.parquet", SampleSpec())
    assert zipped["input_compression"] == "gzip" and zipped["rows"] == plain["rows"] == 20_000
    assert pd.read_parquet(tmp_path / "p.parquet").equals(pd.read_parquet(tmp_path / "z.parquet"))


@needs_shared()
def test_real_avazu_rows(tmp_path: Path) -> None:
    manifest = sample_csv(AVAZU_HEAD, tmp_path / "real.parquet", SampleSpec())
    df = pd.read_parquet(tmp_path / "real.parquet")
    assert manifest["rows"] == 999 == len(df)
    assert df["id"].str.len().max() == 20  # 20-digit ids survive (they overflow int64)
    assert (df["C20"] == -1).any()


# ----------------------------------------------------------------- bad input


@pytest.fixture
def earlier(tmp_path: Path, synthetic_csv: tuple[Path, Path]) -> Path:
    """A good earlier sample at the destination, which a failed run must leave as it was."""
    dest = tmp_path / "out" / "train.parquet"
    sample_csv(synthetic_csv[0], dest, SampleSpec(rows=100))
    return dest


def _head(src: Path, n: int) -> str:
    with open(src) as f:
        return "".join(next(f) for _ in range(n + 1))


def _assert_untouched(dest: Path, before: bytes) -> None:
    assert dest.read_bytes() == before
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temporary leftovers


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("empty", lambda src: "", r"empty file \(0 bytes\)"),
        ("truncated", lambda src: _head(src, 50)[:-40], r"truncated or malformed row: expected 24 columns, got \d+"),
        (
            "missing_column",
            lambda src: "\n".join(",".join(line.split(",")[:-1]) for line in _head(src, 5).splitlines()) + "\n",
            r"missing column\(s\) 'C21'",
        ),
        (
            "non_numeric_hour",
            lambda src: _head(src, 5).replace(",141", ",xx1", 1),
            r"column 'hour' must be int64, found 'xx1",
        ),
        ("header_only", lambda src: _head(src, 0), r"no data rows"),
    ],
)
@pytest.mark.parametrize("mode", ["first", "random"])  # random: the two-pass path refuses the same way
def test_bad_csv_is_refused_and_earlier_output_kept(
    name: str, make, message: str, synthetic_csv: tuple[Path, Path], earlier: Path, tmp_path: Path, mode: str
) -> None:
    bad = tmp_path / f"{name}.csv"
    bad.write_text(make(synthetic_csv[0]))
    before = earlier.read_bytes()
    with pytest.raises(BadInputError, match=message) as err:
        sample_csv(bad, earlier, SampleSpec(rows=3, mode=mode))
    assert str(bad) in str(err.value)  # the message says where
    _assert_untouched(earlier, before)


def test_corrupt_gzip_is_refused(synthetic_csv: tuple[Path, Path], earlier: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.gz"
    with gzip.open(good, "wb") as g:
        g.write(Path(synthetic_csv[0]).read_bytes()[:2_000_000])
    data = bytearray(good.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\x00" * 64  # damage the deflate stream
    bad = tmp_path / "bad.gz"
    bad.write_bytes(bytes(data))
    before = earlier.read_bytes()
    with pytest.raises(BadInputError, match=r"corrupt gzip|cannot parse"):
        sample_csv(bad, earlier, SampleSpec())
    _assert_untouched(earlier, before)


def test_gzip_with_garbage_header_is_refused(earlier: Path, tmp_path: Path) -> None:
    bad = tmp_path / "train.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00" + b"not really deflate" * 20)
    with pytest.raises(BadInputError, match="corrupt gzip"):
        sample_csv(bad, earlier, SampleSpec())


def test_manifest_written_by_the_step(synthetic_csv: tuple[Path, Path], platform_env: Path) -> None:
    from jobs.avazu_ctr import sample
    from jobs.avazu_ctr.config import load
    from jobs.paths import RunContext

    out = sample.run(
        load("smoke"), RunContext.cli("avazu_ctr", "t"), {"raw_path": str(synthetic_csv[0]), "source": "synthetic"}
    )
    manifest = json.loads(Path(out["sample_manifest"]).read_text())
    assert manifest["rows"] == out["sample_rows"] == 20_000
    assert manifest["source"] == "synthetic" and manifest["seed"] == 42


@pytest.mark.parametrize("rows", [1, 777, 19_999, 20_000, 50_000])
def test_random_sample_equals_its_definition(synthetic_csv: tuple[Path, Path], tmp_path: Path, rows: int) -> None:
    """Two streaming passes give exactly the single-pass definition: one key per row from the seed's generator
    in file order, the ``rows`` smallest keys kept, in file order (all rows when the file has fewer)."""
    src, _ = synthetic_csv
    manifest = sample_csv(src, tmp_path / "s.parquet", SampleSpec(rows=rows, mode="random", seed=7))
    full = pd.read_csv(src, dtype={"id": str})
    keys = np.random.default_rng(7).random(len(full))
    want = full.iloc[np.sort(np.argsort(keys, kind="stable")[:rows])]["id"].tolist()
    got = pd.read_parquet(tmp_path / "s.parquet")["id"].tolist()
    assert got == want
    assert manifest["rows"] == min(rows, len(full)) and manifest["rows_read"] == len(full)


def test_random_sample_keeps_exactly_n_when_keys_tie() -> None:
    """Equal keys at the cut: the first ones in file order fill the sample up to exactly N."""
    from jobs.avazu_ctr.sample import _Cut

    cut = _Cut(0.5, ties=3)
    first = cut.mask(np.array([0.1, 0.5, 0.9, 0.5]))
    second = cut.mask(np.array([0.5, 0.5, 0.2]))
    assert first.tolist() == [True, True, False, True] and second.tolist() == [True, False, True]
