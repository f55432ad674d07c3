"""Register the online banner posteriors as a new ``banner_policy`` version (alias ``champion``): the state the
service would restart from, and the policy ``banner_bandit_eval`` can evaluate offline."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
NAME = "banner_policy"


def register_banner_policy(arms: pd.DataFrame) -> dict[str, Any]:
    """Log ``arms`` (KEY, creative, alpha, beta) as a pyfunc model from code, register it, move ``champion``."""
    import mlflow
    from mlflow.models import infer_signature

    from jobs.model_code import requirements
    from jobs.tracking import mlflow_setup

    if arms.empty:
        raise ValueError("no banner arms to snapshot")
    mlflow_setup("serving")
    example = arms[["platform", "slot", "location"]].drop_duplicates().head(3)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name="banner_policy_snapshot") as run:
        path = Path(tmp) / "arms.csv"
        arms.to_csv(path, index=False)
        mlflow.log_metrics({"contexts": len(example), "arms": len(arms),
                            "impressions": float((arms["alpha"] + arms["beta"]).sum())})
        info = mlflow.pyfunc.log_model(
            name=NAME, python_model=str(HERE / "banner_model.py"), artifacts={"arms": str(path)},
            code_paths=[str(HERE), str(HERE.parent / "models")], pip_requirements=requirements("banner_policy"),
            signature=infer_signature(example, pd.DataFrame({"creative": [0], "propensity": [0.5]})))
        client = mlflow.MlflowClient()
        version = mlflow.register_model(info.model_uri, NAME, tags={"source": "serving"}).version
        client.set_registered_model_alias(NAME, "champion", version)
    return {"model": NAME, "version": str(version), "run_id": run.info.run_id, "arms": len(arms)}
