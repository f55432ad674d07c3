"""load_champions: the registered models the nightly evaluates; a missing one is skipped with a log line."""

from __future__ import annotations

import logging
from typing import Any

from jobs.market.advertisers import advertiser_names
from jobs.market.agent_scores import agent_scores
from jobs.market_nightly.config import NightlyConfig
from jobs.paths import RunContext
from jobs.registry import champion_version
from models.market.envs import ACTION_INTERFACE
from models.market.pricing_env import PRICING_INTERFACE

log = logging.getLogger(__name__)

CHAMPIONS = {"ctr": "ctr_lightgbm", "agent_classifier": "agent_classifier", "pricing_policy": "pricing_policy"}
INTERFACES = {"pricing_policy": PRICING_INTERFACE}  # learned policies whose output depends on the env's interface


def run(cfg: NightlyConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Find each champion (ctr_lightgbm, agent_classifier, pricing_policy, bidder_<agent>) and prepare what the
    simulations need."""
    import mlflow

    client = mlflow.MlflowClient()
    found: dict[str, Any] = {}
    for role, name in CHAMPIONS.items():
        v = champion_version(client, name)
        if v is None:
            log.info("no %s@champion in the registry: %s is skipped tonight", name, role)
            found[role] = None
            continue
        if name in INTERFACES and v.tags.get("action_interface") != INTERFACES[name]:
            # Its module's outputs mean something else to today's code (a price, not a residual on the rule).
            log.warning("%s v%s acts through %s, today's code through %s: skipped tonight (retrain with "
                        "market_rl_training)", name, v.version, v.tags.get("action_interface", "an older interface"),
                        INTERFACES[name])
            found[role] = None
            continue
        found[role] = {"name": name, "version": int(v.version), "uri": f"models:/{name}/{v.version}"}
        mlflow.set_tag(f"champion.{name}", f"v{v.version}")
        log.info("champion %s v%s", name, v.version)
    found["bidders"] = {}
    for agent in advertiser_names():
        v = champion_version(client, f"bidder_{agent}")
        if v is None:
            log.info("no bidder_%s@champion: %s stays scripted only tonight", agent, agent)
            continue
        if v.tags.get("action_interface") != ACTION_INTERFACE:
            # An older bidder's actions mean something else to today's env (models.market.envs): played, it
            # would bid nonsense. It stays in the registry; the next market_rl_training run replaces it.
            log.warning("bidder_%s v%s acts through %s, the market through %s: %s stays scripted only tonight "
                        "(retrain with market_rl_training)", agent, v.version,
                        v.tags.get("action_interface", "an older action interface"), ACTION_INTERFACE, agent)
            continue
        found["bidders"][agent] = {
            "name": f"bidder_{agent}",
            "version": int(v.version),
            "uri": f"models:/bidder_{agent}/{v.version}",
        }
        mlflow.set_tag(f"champion.bidder_{agent}", f"v{v.version}")
    scores = None
    if found["agent_classifier"]:
        v = client.get_model_version(found["agent_classifier"]["name"], str(found["agent_classifier"]["version"]))
        scores = agent_scores(v, ctx.run_dir / "champions" / "agent_scores.parquet")
    return {"champions": found, "agent_scores_path": scores}
