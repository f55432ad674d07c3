"""The registered learned policies: ``bidder_<agent>`` (market observation in, multiplier on its script's bids out) and
``pricing_policy`` (pricing state in, price multiplier out), as MLflow pyfuncs around saved RLModules."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from models.market.customers import STAGES

OBS_COLUMNS = [f"obs_{i}" for i in range(20)]
# The bidder's output: the log2 multiplier on its script's bids for customers in each lifecycle stage.
ACTION_COLUMNS = [f"log2_bid_multiplier_{s.lower()}" for s in STAGES]
PRICING_COLUMNS = ["demand", "inventory", "hour", "agent_fraction", "velocity"]


class BidderModel(mlflow.pyfunc.PythonModel):
    """pyfunc: artifact ``module`` (an RLModule checkpoint); rows of 20 observation floats -> the log2 multipliers
    on the bidder's scripted bids, one column per lifecycle stage (models.market.envs)."""

    def load_context(self, context: Any) -> None:
        from jobs.market.rllib import load_module

        self.module = load_module(context.artifacts["module"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from jobs.market.rllib import act

        a = act(self.module, model_input[OBS_COLUMNS].to_numpy(np.float32), self.module.action_space)
        return pd.DataFrame(a, columns=ACTION_COLUMNS)  # (rows, stages) for a Box and a grid row alike


class PricingPolicyModel(mlflow.pyfunc.PythonModel):
    """pyfunc: artifact ``module``; rows of the pricing state -> price multiplier (the module's residual on the
    elasticity rule applied, models.market.pricing_env)."""

    def load_context(self, context: Any) -> None:
        from jobs.market.rllib import load_module

        self.module = load_module(context.artifacts["module"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from jobs.market.rllib import act
        from models.market.pricing_env import PricingEnvConfig, residual_multipliers

        obs = model_input[PRICING_COLUMNS].to_numpy(np.float32)
        a = act(self.module, obs, self.module.action_space)
        return pd.DataFrame({"multiplier": residual_multipliers(obs, a[:, 0], PricingEnvConfig())})


def log_policy(kind: str, name: str, module_dir: str, example: pd.DataFrame) -> str:
    """Log a policy pyfunc in the active run; returns its model URI."""
    from mlflow.models import infer_signature

    from jobs.model_code import log_pyfunc

    info = log_pyfunc(name, "bidder" if kind == "bidder" else "pricing_policy", artifacts={"module": module_dir},
                      input_example=example, signature=infer_signature(example))
    return info.model_uri
