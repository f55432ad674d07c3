"""Great Expectations suites on real and broken data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from jobs.validation import EXPECTATIONS_DIR, DataValidationError, validate_frame
from models.ctr.synth import SynthConfig, generate_chunks
from tests.conftest import AVAZU_HEAD, needs_shared


@pytest.fixture(scope="module")
def raw_frame() -> pd.DataFrame:
    table, _ = next(generate_chunks(SynthConfig(seed=9), 3000))
    return table.to_pandas()


def test_suites_are_reviewed_json() -> None:
    for path in EXPECTATIONS_DIR.glob("*.json"):
        spec = json.loads(path.read_text())
        assert spec["name"] == path.stem and spec["expectations"]


def test_synthetic_raw_passes(raw_frame: pd.DataFrame, platform_env: Path) -> None:
    report = validate_frame(raw_frame, "avazu_raw", "synthetic")
    assert report.success and report.evaluated >= 25 and report.failures == []
    assert report.data_docs is not None and (report.data_docs / "index.html").exists()


@needs_shared()
def test_real_avazu_head_passes(platform_env: Path, tmp_path: Path) -> None:
    from jobs.avazu_ctr.sample import SampleSpec, sample_csv

    sample_csv(AVAZU_HEAD, tmp_path / "r.parquet", SampleSpec())
    assert validate_frame(pd.read_parquet(tmp_path / "r.parquet"), "avazu_raw", "real head").success


def test_click_values_other_than_0_1_name_the_expectation(raw_frame: pd.DataFrame, platform_env: Path) -> None:
    bad = raw_frame.copy()
    bad.loc[[3, 10], "click"] = 2
    bad.loc[5, "site_id"] = "NOT-HEX"
    with pytest.raises(DataValidationError) as err:
        validate_frame(bad, "avazu_raw", "broken sample")
    msg = str(err.value)
    assert "expect_column_values_to_be_in_set column 'click': 2 unexpected" in msg
    assert "expect_column_values_to_match_regex column 'site_id'" in msg
    assert "broken sample" in msg and len(err.value.report.failures) == 2


def test_each_run_folder_has_its_own_context_and_data_docs(raw_frame: pd.DataFrame, tmp_path: Path) -> None:
    a, b = tmp_path / "run_a", tmp_path / "run_b"
    validate_frame(raw_frame, "avazu_raw", "a1", project_dir=a)
    validate_frame(raw_frame, "avazu_raw", "a2", project_dir=a)
    report = validate_frame(raw_frame, "avazu_raw", "b1", project_dir=b)
    count = lambda root: len(list((root / "gx" / "uncommitted" / "validations").rglob("*.json")))  # noqa: E731
    assert count(a) == 2 and count(b) == 1  # runs do not see (or re-log) each other's results
    assert report.data_docs == b / "gx" / "uncommitted" / "data_docs" / "local_site"


def _outcome(report) -> list[tuple]:  # noqa: ANN001 - a ValidationReport
    """What each failed expectation found, comparable across engines: type, column and unexpected count."""
    found = []
    for f in report.failures:
        count = f["observed"].split(" unexpected")[0] if "unexpected" in f["observed"] else f["observed"]
        found.append((f["expectation"], f["column"], count))
    return sorted(found)


@pytest.mark.slow
def test_spark_engine_equals_the_pandas_engine(raw_frame: pd.DataFrame, platform_env: Path, spark) -> None:  # noqa: ANN001
    """The same suite on the same rows through GX's Spark engine: same verdict, same expectations evaluated, the
    same failures with the same unexpected counts (clean rows, then rows broken four ways)."""
    good_pd = validate_frame(raw_frame, "avazu_raw", "pandas")
    good_spark = validate_frame(spark.createDataFrame(raw_frame), "avazu_raw", "spark")
    assert good_spark.success and good_spark.evaluated == good_pd.evaluated and good_spark.failures == []

    bad = raw_frame.copy()
    bad.loc[[3, 10], "click"] = 2
    bad.loc[5, "site_id"] = "NOT-HEX"
    bad.loc[7, "id"] = bad.loc[8, "id"]  # a duplicate id
    bad.loc[[1, 2, 4], "C1"] = 999
    reports = {}
    for name, frame in (("pandas", bad), ("spark", spark.createDataFrame(bad))):
        with pytest.raises(DataValidationError) as err:
            validate_frame(frame, "avazu_raw", f"broken on {name}")
        reports[name] = err.value.report
    assert _outcome(reports["spark"]) == _outcome(reports["pandas"])
    assert {f[1] for f in _outcome(reports["spark"])} == {"click", "site_id", "id", "C1"}
    assert reports["spark"].evaluated == reports["pandas"].evaluated
