"""The registered ``banner_policy``: a snapshot of the service's online banner posteriors, as an MLflow model
from code (this file; the posteriors travel as ``arms.csv``). ``predict`` gives each requested context's
Thompson propensities, so the policy can be evaluated offline and restores the service's state."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import set_model


class BannerPolicyModel(mlflow.pyfunc.PythonModel):
    """Arms (platform, slot, location, creative, alpha, beta) in; propensities per context out."""

    def load_context(self, context: Any) -> None:
        self.arms = pd.read_csv(context.artifacts["arms"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Rows (platform, slot, location) -> one row per (context, creative) with its propensity."""
        from models.bandits.banner import KEY
        from serving.banner import propensities

        draws = int((params or {}).get("draws", 4000))
        rng = np.random.default_rng(int((params or {}).get("seed", 0)))
        want = model_input[KEY].drop_duplicates().astype({"slot": int})
        arms = self.arms.merge(want, on=KEY, how="inner")
        parts = [grp.assign(propensity=propensities(grp["alpha"].to_numpy(), grp["beta"].to_numpy(), draws, rng))
                 for _, grp in arms.groupby(KEY, sort=True)]
        cols = [*KEY, "creative", "propensity"]
        return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


set_model(BannerPolicyModel())
