"""The registered ``mmm`` model: a spend plan in, predicted sales (with intervals) out.

Input rows: ``scenario`` (optional; rows with the same name form one plan), ``channel``,
one optional column per hierarchy level, lower-case (geoindia: ``geo``, ``brand``, ``sku``;
empty = all), and ``spend`` (over the reference quarter) or ``scale`` (a multiple of today's
spend). Output: one row per scenario, ``current``
first: spend, predicted units and value, and the change in value against today, each
with its interval. ``params={"interval": 0.8}`` changes the interval's level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from jobs.mmm.config import MODEL_NAME
from jobs.mmm.store import load_posterior
from jobs.paths import RunContext
from jobs.registry import register
from models.mmm.response import Posterior, whatif


def default_scenarios(post: Posterior) -> dict[str, pd.DataFrame]:
    """What-if plans named from the fitted data: the first channel +20%, the last halved, and per pooled level
    the second channel doubled for that level's first member."""
    first, last = post.channels[0], post.channels[-1]
    out = {f"{first} +20%": pd.DataFrame([{"channel": first, "scale": 1.2}]),
           f"{last} halved": pd.DataFrame([{"channel": last, "scale": 0.5}])}
    other = post.channels[1 % len(post.channels)]
    for level in post.levels:
        member = str(sorted(post.keys[level].unique())[0])
        out[f"{other} doubled for {member}"] = pd.DataFrame([{"channel": other, level.lower(): member, "scale": 2.0}])
    return out


def example_plan(post: Posterior) -> pd.DataFrame:
    """The signature's example: every plan column, from the fitted data (channels and level members)."""
    first, last = post.channels[0], post.channels[-1]
    rows = [{"scenario": f"{first} +20%", "channel": first, "spend": np.nan, "scale": 1.2}]
    level = post.levels[0] if post.levels else None
    members = sorted(post.keys[level].unique())[:2] if level else [None]
    for member in members:  # two rows of one scenario: a plan may name several cells
        rows.append({"scenario": f"{last} off" + (f" for {members[0]}" if level else ""), "channel": last,
                     **({level.lower(): str(member)} if level else {}), "spend": 0.0, "scale": np.nan})
    plan = pd.DataFrame(rows)
    for col in post.plan_columns():
        plan[col] = plan[col].fillna("") if col in plan.columns else ""
    return plan[["scenario", "channel", *post.plan_columns(), "spend", "scale"]]


def scenarios_from_frame(plan: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Plan rows grouped into named scenarios (``plan`` when there is no scenario column)."""
    plan = plan.copy()
    for col in plan.columns:
        if col not in ("scenario", "channel", "spend", "scale") and plan[col].dtype == object:
            plan[col] = plan[col].replace("", None)
    if "scenario" not in plan.columns:
        return {"plan": plan}
    return {str(name): rows.drop(columns="scenario") for name, rows in plan.groupby("scenario", sort=False)}


def scenarios_from_config(scenarios: dict[str, list[dict[str, Any]]]) -> dict[str, pd.DataFrame]:
    """The config's / DAG Param's scenarios (name -> list of row dicts) as plan frames."""
    return {name: pd.DataFrame(rows) for name, rows in scenarios.items()}


class MmmModel(mlflow.pyfunc.PythonModel):
    """pyfunc: artifact ``posterior`` (models.mmm.response.Posterior as .npz)."""

    def load_context(self, context: Any) -> None:
        self.post = load_posterior(Path(context.artifacts["posterior"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """The what-if table for the plan rows (see the module docstring)."""
        level = float((params or {}).get("interval", 0.9))
        return whatif(self.post, scenarios_from_frame(model_input), level)


def register_model(posterior_path: str, score: float, ctx: RunContext) -> dict[str, Any]:
    """Log the ``mmm`` pyfunc (spend plan in, predicted sales out) and register it as champion or challenger."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    from jobs.model_code import log_pyfunc

    post = load_posterior(Path(posterior_path))
    example = example_plan(post)
    inferred = infer_signature(example, whatif(post, scenarios_from_frame(example)), params={"interval": 0.9})
    optional = {"scenario", *post.plan_columns(), "spend", "scale"}  # only the channel is needed in every row
    inputs = Schema([ColSpec(c.type, c.name, required=c.name not in optional) for c in inferred.inputs.inputs])
    info = log_pyfunc(
        MODEL_NAME, "mmm", artifacts={"posterior": posterior_path}, input_example=example,
        signature=ModelSignature(inputs, inferred.outputs, inferred.params))
    return register(info.model_uri, MODEL_NAME, score, {}, ctx.run_id)
