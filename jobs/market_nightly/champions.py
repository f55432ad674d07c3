"""load_champions: the registered models the nightly evaluates; a missing one is skipped with a log line."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from jobs.common import RunContext, atomic_path
from jobs.market_nightly.config import NightlyConfig
from jobs.registry import champion_version
from models.rl_bidders import advertisers

log = logging.getLogger(__name__)

CHAMPIONS = {"ctr": "ctr_lightgbm", "agent_classifier": "agent_classifier", "pricing_policy": "pricing_policy"}


def agent_scores(version: Any, out_path: Any) -> str | None:
    """P(agent) of a champion (agent_classifier or pricing_multitask) on the holdout sessions of the run that
    trained it, with labels.

    The pricing simulator samples these per class to estimate an hour's agent fraction the way
    the classifier would. None (with a log line) when that run's features are gone.
    """
    import mlflow

    from models.session_features import FEATURES

    run = mlflow.MlflowClient().get_run(version.run_id)
    dag_id, run_id = run.data.tags.get("airflow.dag_id"), run.data.tags.get("airflow.run_id")
    path = RunContext(dag_id or "pricing_models", run_id or "").run_dir / "features" / "sessions.parquet"
    if not run_id or not path.is_file():
        log.info("%s v%s: its training features (%s) are gone; the pricing env reads the true mix",
                 version.name, version.version, path)
        return None
    df = pd.read_parquet(path)
    hold = df[df["split"] == "holdout"]
    model = mlflow.pyfunc.load_model(f"models:/{version.name}/{version.version}")
    if version.name == "pricing_multitask":  # the multi-task model also reads the offer; its output has p_agent
        from jobs.pricing_models.multitask import OFFER_COLUMNS

        p_agent = model.predict(hold[FEATURES + OFFER_COLUMNS])["p_agent"].to_numpy()
    else:
        p_agent = pd.Series(model.predict(hold[FEATURES])).to_numpy()
    scores = pd.DataFrame({"label": hold["label"].to_numpy(), "p_agent": p_agent})
    with atomic_path(out_path) as tmp:
        scores.to_parquet(tmp, index=False)
    log.info("%s v%s: %d holdout sessions scored (%d agents)", version.name, version.version, len(scores),
             int(scores["label"].sum()))
    return str(out_path)


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
        found[role] = {"name": name, "version": int(v.version), "uri": f"models:/{name}/{v.version}"}
        mlflow.set_tag(f"champion.{name}", f"v{v.version}")
        log.info("champion %s v%s", name, v.version)
    found["bidders"] = {}
    for agent in advertisers():
        v = champion_version(client, f"bidder_{agent}")
        if v is None:
            log.info("no bidder_%s@champion: %s stays scripted only tonight", agent, agent)
            continue
        found["bidders"][agent] = {"name": f"bidder_{agent}", "version": int(v.version), "uri": f"models:/bidder_{agent}/{v.version}"}
        mlflow.set_tag(f"champion.bidder_{agent}", f"v{v.version}")
    scores = None
    if found["agent_classifier"]:
        v = client.get_model_version(found["agent_classifier"]["name"], str(found["agent_classifier"]["version"]))
        scores = agent_scores(v, ctx.run_dir / "champions" / "agent_scores.parquet")
    return {"champions": found, "agent_scores_path": scores}
