"""The registered CTR model: raw Avazu rows in, click probabilities out.

It bundles the encoding tables fitted on the training split with the native LightGBM
model, and applies the same ``models.ctr.features.transform`` the Spark job used, so
``mlflow models serve -m models:/ctr_lightgbm@champion`` scores raw log lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd


class CtrModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: artifacts ``encodings`` (folder) and ``booster`` (LightGBM text model)."""

    def load_context(self, context: Any) -> None:
        import lightgbm as lgb

        from jobs.avazu_ctr.features import read_tables

        self.tables = read_tables(Path(context.artifacts["encodings"]))
        self.booster = lgb.Booster(model_file=context.artifacts["booster"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        """P(click) for each raw row (columns of ``models.ctr.features.RAW_INPUTS``)."""
        from models.ctr.features import transform

        return self.booster.predict(transform(model_input, self.tables))
