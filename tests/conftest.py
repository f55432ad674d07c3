"""Shared fixtures: an isolated data root and MLflow store per test, one Spark session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
AVAZU_HEAD = SHARED / "data" / "avazu" / "train_head.csv"
OBD_DIR = SHARED / "data" / "obd"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def isolate(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point data root and MLflow store under ``root`` (and away from any Kaggle credentials)."""
    monkeypatch.setenv("PLATFORM_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("PLATFORM_MLFLOW_DIR", str(root / "mlflow"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(root / "no-kaggle"))
    return root


@pytest.fixture
def platform_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated data root and MLflow store for one test."""
    return isolate(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def module_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An isolated data root and MLflow store shared by the tests of one module."""
    with pytest.MonkeyPatch.context() as mp:
        yield isolate(tmp_path_factory.mktemp("module_env"), mp)


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test run (start-up costs ~5-10 s)."""
    from jobs.spark import get_spark

    session = get_spark("tests", shuffle_partitions=4)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """20,000 synthetic rows as train.csv plus their ground truth (written once)."""
    from jobs.avazu_ctr.config import load
    from jobs.avazu_ctr.ingest import write_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    return write_synthetic(load("smoke", {"synthetic_rows": 20_000}), out)


def needs_shared() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not AVAZU_HEAD.exists(), reason=f"real data sample {AVAZU_HEAD} is absent")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test on a Spark session is slow by definition: ``make test-fast`` (``-m "not slow"``) leaves it out."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
