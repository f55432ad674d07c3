"""P(agent) of the pricing champions on held-out sessions: what the pricing env samples to estimate an
hour's agent fraction the way the classifier would (both market pipelines use it)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from jobs.paths import RunContext, atomic_path

log = logging.getLogger(__name__)


def agent_scores(version: Any, out_path: Any) -> str | None:
    """P(agent) of a champion (agent_classifier or pricing_multitask) on the holdout sessions of the run that
    trained it, with labels.

    The pricing simulator samples these per class to estimate an hour's agent fraction the way
    the classifier would. None (with a log line) when that run's features are gone.
    """
    import mlflow

    from models.pricing.multitask import OFFER_FEATURES
    from models.pricing.session_features import FEATURES

    run = mlflow.MlflowClient().get_run(version.run_id)
    dag_id, run_id = run.data.tags.get("airflow.dag_id"), run.data.tags.get("airflow.run_id")
    path = RunContext(dag_id or "pricing_models", run_id or "").run_dir / "features" / "sessions.parquet"
    if not run_id or not path.is_file():
        log.info("%s v%s: its training features (%s) are gone; the pricing env reads the true mix",
                 version.name, version.version, path)
        return None
    hold = pd.read_parquet(path, filters=[("split", "==", "holdout")])
    model = mlflow.pyfunc.load_model(f"models:/{version.name}/{version.version}")
    if version.name == "pricing_multitask":  # the multi-task model also reads the offer; its output has p_agent
        p_agent = model.predict(hold[FEATURES + OFFER_FEATURES])["p_agent"].to_numpy()
    else:
        p_agent = pd.Series(model.predict(hold[FEATURES])).to_numpy()
    scores = pd.DataFrame({"label": hold["label"].to_numpy(), "p_agent": p_agent})
    with atomic_path(out_path) as tmp:
        scores.to_parquet(tmp, index=False)
    log.info("%s v%s: %d holdout sessions scored (%d agents)", version.name, version.version, len(scores),
             int(scores["label"].sum()))
    return str(out_path)
