"""register / report: the learned policies into the registry (champion / challenger), and the run's summary."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from jobs.market.policy_models import OBS_COLUMNS, PRICING_COLUMNS, log_policy
from jobs.market_rl_training.config import RlConfig
from jobs.paths import RunContext, atomic_path
from jobs.registry import register

log = logging.getLogger(__name__)


def run_register(cfg: RlConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """``bidder_<agent>`` scored by its evaluation ROAS; ``pricing_policy`` by its evaluation revenue."""
    rng = np.random.default_rng(cfg.seed)
    # float64 in the signature: callers pass plain floats; the policy casts to float32 itself.
    obs_example = pd.DataFrame(rng.uniform(0, 1, (3, len(OBS_COLUMNS))), columns=OBS_COLUMNS)
    registered = {}
    for row in state["bidder_eval"]:
        agent = row["agent"]
        uri = log_policy("bidder", f"bidder_{agent}", state["policies"][agent]["module"], obs_example)
        registered[f"bidder_{agent}"] = register(uri, f"bidder_{agent}", row["learned_roas"], {}, ctx.run_id)
    price_example = pd.DataFrame([[1.0, 0.8, 0.5, 0.7, 0.5]], columns=PRICING_COLUMNS, dtype=np.float64)
    ppo = next(r for r in state["pricing_eval"] if r["policy"] == "ppo")
    uri = log_policy("pricing", "pricing_policy", state["pricing_module"], price_example)
    registered["pricing_policy"] = register(uri, "pricing_policy", float(ppo["revenue_mean"]), {}, ctx.run_id)
    return {**state, "registered": {k: {"version": v["version"], "alias": v["alias"]} for k, v in registered.items()}}


def run_report(cfg: RlConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """report.md: time per curriculum stage, learned vs scripted with intervals (and the verdict), pricing."""
    import mlflow

    bid = pd.DataFrame(state["bidder_eval"])
    price = pd.DataFrame(state["pricing_eval"])
    lines = [
        f"# Learned bidders and pricing, run {ctx.run_id}",
        "",
        f"Env steps per second during training: {state['env_steps_per_s']}. "
        f"Wall time per curriculum stage (s): {state['stage_seconds']}.",
        "",
        "## Learned bidders vs the scripted strategies they replace (same seeds, same daily budget)",
        "",
        bid.to_markdown(index=False, floatfmt=".3f"),
        "",
        "Each family learns against the scripted rest of the market (RLlib trains one algorithm per run).",
        "",
        f"## Pricing PPO ({state['pricing_variant']}) vs baselines",
        "",
        price.to_markdown(index=False, floatfmt=",.3f"),
        "",
        "Registered: " + ", ".join(f"{k} v{v['version']}@{v['alias']}" for k, v in state["registered"].items()),
    ]
    path = ctx.run_dir / "report" / "report.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    mlflow.log_artifact(str(path), "report")
    return {**state, "report_path": str(path)}
