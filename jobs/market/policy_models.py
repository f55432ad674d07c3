"""The registered learned policies: ``bidder_<agent>`` (market observation in, multiplier on its script's bids out) and
``pricing_policy`` (pricing state in, price multiplier out), as MLflow pyfuncs around saved RLModules."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from models.market.envs import ACTION_INTERFACE

OBS_COLUMNS = [f"obs_{i}" for i in range(20)]
PRICING_COLUMNS = ["demand", "inventory", "hour", "agent_fraction", "velocity"]


class BidderModel(mlflow.pyfunc.PythonModel):
    """pyfunc: artifact ``module`` (an RLModule checkpoint); rows of 20 observation floats -> the log2 multiplier on
    the bidder's scripted bids (models.market.envs)."""

    def load_context(self, context: Any) -> None:
        from jobs.market.rllib import load_module

        self.module = load_module(context.artifacts["module"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from jobs.market.rllib import act

        a = act(self.module, model_input[OBS_COLUMNS].to_numpy(np.float32), self.module.action_space)
        return pd.DataFrame(a, columns=[ACTION_INTERFACE])  # (rows, 1) for a Box and a grid row alike


class PricingPolicyModel(mlflow.pyfunc.PythonModel):
    """pyfunc: artifact ``module``; rows of the pricing state -> price multiplier."""

    def load_context(self, context: Any) -> None:
        from jobs.market.rllib import load_module

        self.module = load_module(context.artifacts["module"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from jobs.market.rllib import act

        a = act(self.module, model_input[PRICING_COLUMNS].to_numpy(np.float32), self.module.action_space)
        return pd.DataFrame({"multiplier": np.asarray(a).reshape(len(model_input), -1)[:, 0]})


def log_policy(kind: str, name: str, module_dir: str, example: pd.DataFrame) -> str:
    """Log a policy pyfunc in the active run; returns its model URI."""
    from mlflow.models import infer_signature

    from jobs.model_code import log_pyfunc

    info = log_pyfunc(name, "bidder" if kind == "bidder" else "pricing_policy", artifacts={"module": module_dir},
                      input_example=example, signature=infer_signature(example))
    return info.model_uri
