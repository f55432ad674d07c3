"""banner_bandit_eval end to end without Airflow, on the real Open Bandit Dataset sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs.runner import run_pipeline
from jobs.validation import DataValidationError
from models.common.errors import BadInputError
from tests.conftest import OBD_DIR

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (OBD_DIR / "random" / "all.csv").exists(), reason=f"{OBD_DIR} is absent")]


def test_ope_on_obd_and_synthetic_logs(platform_env: Path, capsys: pytest.CaptureFixture) -> None:
    state = run_pipeline("banner_bandit_eval", "smoke", {"obd_dir": str(OBD_DIR)}, run_id="obd")
    t = pd.read_csv(Path(state["ope_path"]) / "ope_results.csv")
    obs = t[t["estimator"] == "observed"].set_index(["source", "policy", "log"])["estimate"]
    assert obs[("obd", "random", "random")] == pytest.approx(0.0038)
    assert obs[("obd", "bts", "bts")] == pytest.approx(0.0042)
    bts = t[(t["policy"] == "bts") & (t["log"] == "random")].set_index("estimator")
    assert set(bts.index) == {"replay", "ipw", "snipw", "dr"}
    assert np.allclose(bts["reference"], 0.0042)
    assert (bts["lo"] <= bts["estimate"]).all() and (bts["estimate"] < bts["hi"]).all()
    # A non-uniform logger: replay is not estimated, and the row says why instead of vanishing.
    replay = t[(t["source"] == "obd") & (t["log"] == "bts") & (t["estimator"] == "replay")].iloc[0]
    assert np.isnan(replay["estimate"]) and "uniform logger" in replay["note"]
    dr = t[t["estimator"] == "dr"]
    assert (dr["split_sd"] >= 0).all() and t.loc[t["estimator"] != "dr", "split_sd"].isna().all()
    assert (t["low_ess"] == (t["estimate"].notna() & (t["ess"] < 100))).all()
    assert {"thompson (cold start)", "thompson (learning, batched)"} <= set(t[t["source"] == "obd"]["policy"])
    syn = t[(t["source"] == "synthetic") & (t["estimator"] == "dr")]
    assert ((syn["estimate"] - syn["reference"]).abs() < 4 * syn["se"]).all()
    report = (Path(state["ope_path"]) / "ope_report.md").read_text()
    assert "to be told apart at 80% power" in report
    assert "not estimated: replay is unbiased only under a uniform logger" in report
    assert {"ope_obd.png", "ope_synthetic.png"} <= {p.name for p in Path(state["ope_path"]).iterdir()}
    from tests.browser import check_report

    seen = check_report(Path(state["ope_path"]) / "report.html", "banner_bandit_eval")
    assert any("cover the policy's known CTR" in f for f in seen["findings"])
    from jobs.report import main

    assert main(["banner_bandit_eval"]) == 0
    assert "reference 0.0042 (observed on-policy CTR)" in capsys.readouterr().out


def test_bad_propensity_fails_validation_and_missing_obd_is_named(platform_env: Path) -> None:
    bad = platform_env / "obd"
    shutil.copytree(OBD_DIR, bad)
    for sub in ("random", "bts"):
        (bad / sub / "all.csv").chmod(0o644)
    df = pd.read_csv(bad / "bts" / "all.csv", index_col=0)
    df.loc[5, "propensity_score"] = 0.0
    df.to_csv(bad / "bts" / "all.csv")
    with pytest.raises(DataValidationError, match="expect_column_values_to_be_between column 'propensity'"):
        run_pipeline("banner_bandit_eval", "smoke", {"obd_dir": str(bad)}, run_id="bad")
    assert not (platform_env / "data" / "banner_bandit_eval" / "runs" / "bad" / "ope").exists()
    with pytest.raises(BadInputError, match="lacks campaign 'all': looked for .*nowhere/random/all.csv and "
                                            ".*nowhere/random/all/all.csv"):
        run_pipeline("banner_bandit_eval", "smoke", {"obd_dir": str(platform_env / "nowhere")}, run_id="none")


def test_obd_in_its_nested_layout_is_found_and_a_missing_campaign_names_both_layouts(tmp_path: Path) -> None:
    from jobs.banner_bandit_eval.logs import obd_files

    for logger in ("random", "bts"):  # as the Open Bandit Dataset and Open Bandit Pipeline lay it out
        (tmp_path / logger / "all").mkdir(parents=True)
        shutil.copy(OBD_DIR / logger / "all.csv", tmp_path / logger / "all" / "all.csv")
    found, missing = obd_files(tmp_path, "all")
    assert missing == [] and found == {lg: tmp_path / lg / "all" / "all.csv" for lg in ("random", "bts")}
    found, missing = obd_files(tmp_path, "men")
    assert found == {} and tmp_path / "bts" / "men.csv" in missing and tmp_path / "bts" / "men" / "men.csv" in missing


@pytest.mark.parametrize("key, value, message", [
    ("weight_clip", 0.5, "weight_clip must be 0 \\(none\\) or >= 1"),
    ("weight_clip", float("nan"), "weight_clip must be 0 \\(none\\) or >= 1"),
    ("min_ess", -1, "min_ess must be >= 0"),
    ("min_ess", float("nan"), "min_ess must be >= 0"),
    ("dr_splits", 1, "dr_splits must be >= 2"),
])
def test_bad_weight_settings_are_named(key: str, value: float, message: str) -> None:
    from jobs.banner_bandit_eval.config import load

    with pytest.raises(ValueError, match=f"BannerConfig: {message}"):
        load("smoke", {key: value})
