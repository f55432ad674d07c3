"""mmm end to end without Airflow: outputs, the registered pyfunc, the what-if CLI; bad data stops the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs.runner import run_pipeline
from jobs.validation import DataValidationError
from models.common.errors import BadInputError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(module_env: Path) -> dict:
    """One successful smoke run (2 geos of the synthetic data, with its truth)."""
    return run_pipeline("mmm", "smoke", {"source": "synthetic"}, run_id="good")


def test_run_writes_every_output_and_registers_the_model(published: dict) -> None:
    import mlflow

    run_dir = Path(published["posterior_path"]).parent.parent
    for rel in ("evaluate/holdout_metrics.csv", "evaluate/roi.csv", "evaluate/waterfall.png", "curves/curves_geo.png",
                "curves/response_curves.parquet", "optimise/optimal_plan.csv", "optimise/frontier.png",
                "optimise/whatif.csv", "report/report.md"):
        assert (run_dir / rel).is_file(), rel
    metrics = pd.read_csv(run_dir / "evaluate" / "holdout_metrics.csv")
    assert set(metrics["level"]) == {"row", "geo_brand", "brand_national", "national"}
    hold = metrics[metrics["period"] == "holdout"].set_index("level")
    assert hold.loc["national", "mape"] < 0.05 and hold.loc["brand_national", "r2"] > 0.5
    roi = pd.read_csv(run_dir / "evaluate" / "roi.csv")
    assert "Facebook+Instagram" in set(roi["channel"])  # the collinear pair is found in the data
    assert {"true_roi", "covered", "error_pct"} <= set(roi.columns)
    assert published["registered"]["alias"] == "champion"
    model = mlflow.pyfunc.load_model("models:/mmm@champion")
    plan = pd.DataFrame({"scenario": ["same", "tv up", "tv up"], "channel": ["TV", "TV", "Radio"],
                         "scale": [1.0, 1.5, 1.0]})
    out = model.predict(plan).set_index("scenario")
    assert list(out.index) == ["current", "same", "tv up"]
    assert out.loc["same", "value"] == pytest.approx(out.loc["current", "value"])
    assert out.loc["tv up", "delta_value_lo"] > 0  # more TV sells more, with an interval that excludes zero
    text = Path(published["report_path"]).read_text()
    assert "## Budget optimiser" in text and "uplift" in text


def test_the_report_page_reads_in_a_browser(published: dict) -> None:
    from tests.browser import check_report

    seen = check_report(Path(published["report_html"]), "mmm")
    assert seen["findings"][0].startswith("Holdout") and any("Highest ROI" in f for f in seen["findings"])


def test_the_registered_model_lists_what_it_needs(published: dict) -> None:
    from tests.model_requirements import uncovered

    assert uncovered("models:/mmm@champion") == set()


def test_report_and_whatif_cli(published: dict, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    from jobs.mmm.whatif import main as whatif_main
    from jobs.report import main

    assert main(["mmm"]) == 0
    out = capsys.readouterr().out
    assert "holdout" in out and "ROI" in out and "uplift" in out
    assert whatif_main(["--scale", "TV=1.2", "--scale", "Radio:BrandA=0"]) == 0
    out = capsys.readouterr().out
    assert "TV=1.2" in out and "Radio:BrandA=0" in out and "current" in out
    with pytest.raises(SystemExit, match="unknown channel 'Tv'"):
        whatif_main(["--scale", "Tv=1.2"])


def _local(published: dict, tmp: Path, edit, name: str) -> Path:
    weekly = pd.read_parquet(published["data_path"])
    path = tmp / f"{name}.csv"
    edit(weekly).rename(columns={"week": "Week"}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name, edit, error, message", [
    ("negative media", lambda d: d.assign(Radio_Listenership=np.where(d.index == 7, -1.0, d["Radio_Listenership"])),
     DataValidationError, "expect_column_values_to_be_between column 'Radio_Listenership'"),
    ("duplicate row", lambda d: pd.concat([d, d.iloc[[11]]], ignore_index=True),
     DataValidationError, "expect_compound_columns_to_be_unique"),
    ("zero price", lambda d: d.assign(Net_Price=np.where(d.index == 3, 0.0, d["Net_Price"])),
     DataValidationError, "expect_column_values_to_be_between column 'Net_Price'"),
    ("missing weeks", lambda d: d.drop(index=d.index[(d["SKU"] == "BrandB_SKU2") & (d["Geo"] == "SOUTH")][40:43]),
     BadInputError, r"1 series lack periods, e.g. SOUTH/BrandB/BrandB_SKU2 has 153 of 156"),
    ("calendar gap", lambda d: d[d["week"] != d["week"].drop_duplicates().sort_values().iloc[60]],
     BadInputError, r"the periods are not consecutive \(W\)"),
    ("all-zero channel", lambda d: d.assign(Radio_Listenership=0.0),
     BadInputError, "channel 'Radio': column 'Radio_Listenership' is zero in every row"),
    ("constant channel", lambda d: d.assign(Print_Readership=5000.0),
     BadInputError, r"channel 'Print': column 'Print_Readership' is the same in every row \(5000\)"),
])
def test_bad_weekly_data_stops_before_the_fit(published: dict, module_env: Path, name, edit, error, message) -> None:
    import mlflow

    path = _local(published, module_env, edit, name.replace(" ", "_"))
    with pytest.raises(error, match=message):
        run_pipeline(
            "mmm", "smoke", {"source": "local", "local_path": str(path)}, run_id=f"bad_{name.replace(' ', '_')}"
        )
    run_dir = module_env / "data" / "mmm" / "runs" / f"bad_{name.replace(' ', '_')}"
    assert not (run_dir / "fit").exists()
    assert [str(v.version) for v in mlflow.MlflowClient().search_model_versions("name = 'mmm'")] == ["1"]


def test_unparseable_date_names_the_row(published: dict, module_env: Path) -> None:
    weekly = pd.read_parquet(published["data_path"])
    weekly["Date"] = weekly.pop("week").dt.strftime("%-m/%-d/%Y")
    weekly.loc[4, "Date"] = "2022-13-01"
    weekly.to_csv(module_env / "bad_date.csv", index=False)
    with pytest.raises(BadInputError, match=r"column 'Date', row 5 \(line 6\): '2022-13-01' is not %m/%d/%Y"):
        run_pipeline(
            "mmm", "smoke", {"source": "local", "local_path": str(module_env / "bad_date.csv")}, run_id="bad_date"
        )


def test_gate_failure_registers_nothing(published: dict) -> None:
    import mlflow

    from jobs.mmm.fit import GateError

    with pytest.raises(GateError, match="brand_national holdout R2 .* not registered"):
        run_pipeline("mmm", "smoke", {"source": "synthetic", "gate_r2": 0.9999, "adam_steps": 100}, run_id="gate")
    assert [str(v.version) for v in mlflow.MlflowClient().search_model_versions("name = 'mmm'")] == ["1"]


def test_kaggle_without_credentials_says_where_to_put_them(module_env: Path) -> None:
    from models.common.errors import CredentialsError

    with pytest.raises(CredentialsError, match="KAGGLE_USERNAME"):
        run_pipeline("mmm", "smoke", {"source": "kaggle"}, run_id="kaggle")
