"""Ingest: source resolution, Kaggle credentials, local and synthetic sources."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from jobs import kaggle
from jobs.avazu_ctr import ingest
from jobs.avazu_ctr.config import load
from jobs.paths import RunContext
from models.common.errors import BadInputError, CredentialsError


def test_auto_without_credentials_falls_back_to_synthetic_and_says_so(platform_env: Path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    assert kaggle.resolve_source(load("smoke").source) == "synthetic"
    assert "no Kaggle credentials" in caplog.text and "synthetic" in caplog.text


def test_auto_with_credentials_picks_kaggle(platform_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kdir = platform_env / "no-kaggle"
    kdir.mkdir()
    (kdir / "kaggle.json").write_text(json.dumps({"username": "u", "key": "k"}))
    assert kaggle.kaggle_credentials() == str(kdir / "kaggle.json")
    assert kaggle.resolve_source(load("smoke").source) == "kaggle"
    monkeypatch.setenv("KAGGLE_USERNAME", "u")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    assert kaggle.kaggle_credentials() == "KAGGLE_USERNAME/KAGGLE_KEY"


def test_kaggle_without_credentials_names_what_is_missing(platform_env: Path) -> None:
    ctx = RunContext.cli("avazu_ctr", "k")
    with pytest.raises(CredentialsError) as err:
        ingest.run(load("smoke", {"source": "kaggle"}), ctx)
    msg = str(err.value)
    for where in ("KAGGLE_USERNAME", "KAGGLE_KEY", "kaggle.json", "kaggle_default"):
        assert where in msg
    assert not (ctx.run_dir / "raw").exists()  # nothing written


def test_local_source_missing_file(platform_env: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        ingest.run(load("smoke", {"source": "local", "local_path": str(platform_env / "nope.csv")}),
                   RunContext.cli("avazu_ctr", "l"))


def test_local_source_needs_a_path() -> None:
    with pytest.raises(ValueError, match="local_path"):
        load("smoke", {"source": "local"})


def test_synthetic_source_writes_csv_and_separate_ground_truth(platform_env: Path) -> None:
    out = ingest.run(load("smoke", {"source": "synthetic", "synthetic_rows": 3000}), RunContext.cli("avazu_ctr", "s"))
    csv = pd.read_csv(out["raw_path"], dtype={"id": str})
    truth = pd.read_parquet(out["ground_truth_path"])
    assert out["source"] == "synthetic" and len(csv) == len(truth) == 3000
    assert "p_click" not in csv.columns  # the truth lives apart from the data
    assert csv["id"].tolist() == truth["id"].tolist()
    assert truth["p_click"].between(0, 1).all()
