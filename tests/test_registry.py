"""Promotion never compares a non-finite score: a NaN is refused, a NaN champion is replaced."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from models.common.errors import GateError, require_finite


def logged_model() -> str:
    import mlflow
    import pandas as pd

    class Model(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
            return pd.Series([0.5] * len(model_input))

    with mlflow.start_run():
        return mlflow.pyfunc.log_model(name="m", python_model=Model()).model_uri


def test_require_finite_names_each_bad_value() -> None:
    require_finite("ok", auc=0.7, champion=None)
    with pytest.raises(GateError, match=r"mmm holdout: non-finite r2=nan, mape=inf; nothing promoted"):
        require_finite("mmm holdout", r2=math.nan, mape=math.inf, wmape=0.1)


def test_a_nan_score_is_refused_and_a_nan_champion_is_replaced(platform_env: Path) -> None:
    import mlflow

    from jobs.registry import register
    from jobs.tracking import mlflow_setup

    mlflow_setup("registry_test")
    client = mlflow.MlflowClient()
    with pytest.raises(GateError, match="registering m: non-finite score=nan"):
        register(logged_model(), "m", math.nan, None, {})
    assert client.search_model_versions("name = 'm'") == []  # nothing registered
    assert register(logged_model(), "m", 0.7, None, {})["alias"] == "champion"
    assert register(logged_model(), "m", 0.6, 0.7, {})["alias"] == "challenger"
    # Before this check, ``0.65 >= nan`` was False: a NaN champion kept every later model a challenger.
    out = register(logged_model(), "m", 0.65, math.nan, {})
    assert out["alias"] == "champion" and str(client.get_model_version_by_alias("m", "champion").version) == "3"
