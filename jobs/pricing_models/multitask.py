"""train_multitask: the PyTorch multi-task model, its learning curves and its pyfunc.

The registered model takes the 29 session features plus the offer (offer_price,
list_price, offer_category, offer_rating) and returns p_agent and p_purchase.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from jobs.model_code import log_pyfunc
from jobs.paths import RunContext
from jobs.plots import pyplot, save_png
from jobs.pricing_models.config import PricingConfig
from jobs.pricing_models.sessions import gather, load_sessions, row_groups, split_mask, validation_mask
from models.pricing.multitask import (
    OFFER_FEATURES,
    Rows,
    Scaler,
    build_net,
    predict,
    product_matrix,
    session_matrix,
    train_chunks,
)
from models.pricing.session_features import FEATURES

log = logging.getLogger(__name__)
COLUMNS = FEATURES + OFFER_FEATURES + ["label", "purchased"]


def offer_matrix(df: pd.DataFrame) -> np.ndarray:
    return product_matrix(df["offer_price"].to_numpy(float), df["list_price"].to_numpy(float),
                          df["offer_category"].to_numpy(object), df["offer_rating"].to_numpy(float))


class MultiTaskModel(mlflow.pyfunc.PythonModel):
    """pyfunc: artifacts ``weights`` (torch state dict) and ``scaler`` (JSON)."""

    def load_context(self, context: Any) -> None:
        import torch

        self.net = build_net()
        self.net.load_state_dict(torch.load(context.artifacts["weights"], weights_only=True))
        self.net.eval()
        self.scaler = Scaler.from_dict(json.loads(Path(context.artifacts["scaler"]).read_text()))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """p_agent and p_purchase per row (29 features + offer columns)."""
        pa, pb = predict(self.net, self.scaler, session_matrix(model_input), offer_matrix(model_input))
        return pd.DataFrame({"p_agent": pa, "p_purchase": pb})


def curves_png(history: list[dict[str, float]], best_epoch: int, path: Path) -> Path:
    plt = pyplot()
    h = pd.DataFrame(history)
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for i, task in enumerate(("agent", "purchase")):
        ax[i].plot(h["epoch"], h[f"train_{task}"], label="train")
        ax[i].plot(h["epoch"], h[f"valid_{task}"], label="validation")
        ax[i].axvline(best_epoch, ls=":", c="grey", label=f"best epoch {best_epoch}")
        ax[i].set(xlabel="epoch", ylabel="BCE", title=f"{task} head")
        ax[i].legend()
    save_png(fig, path, dpi=110)
    return path


def rows_of(df: pd.DataFrame) -> Rows:
    """The multi-task model's inputs and both labels for the sessions of ``df``."""
    return Rows(session_matrix(df), offer_matrix(df), df["label"].to_numpy(), df["purchased"].to_numpy())


def run(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Train with early stopping (the training rows streamed from the session table a row group at a time, in a
    shuffled order); log curves, AUCs (agent head vs XGBoost) and the pyfunc."""
    import mlflow
    import torch
    from mlflow.models import infer_signature
    from sklearn.metrics import roc_auc_score

    path = state["features_path"]
    train_rows = split_mask(path, "train")
    valid = validation_mask(len(train_rows), cfg.seed) & train_rows
    fit = train_rows & ~valid

    def chunks(rng: np.random.Generator | None) -> Any:
        return (rows_of(df) for df in row_groups(path, fit, COLUMNS, rng))

    res = train_chunks(
        chunks,
        rows_of(gather(path, valid, COLUMNS)),
        cfg.mt_epochs,
        cfg.mt_batch,
        cfg.mt_lr,
        cfg.mt_alpha,
        cfg.mt_beta,
        cfg.mt_patience,
        cfg.seed,
        log=lambda row: (
            mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"])),
            log.info("epoch %d: %s", row["epoch"], {k: round(v, 4) for k, v in row.items() if k != "epoch"}),
        ),
    )
    hold, truth = load_sessions(state, split="holdout")
    pa, pb = predict(res.net, res.scaler, session_matrix(hold), offer_matrix(hold))
    xgb_p = (
        pd.read_parquet(state["classifier_predictions"])
        .set_index("sessionId")
        .loc[hold["sessionId"], "p_agent"]
    )
    metrics = {"holdout_agent_auc": float(roc_auc_score(hold["label"], pa)),
               "holdout_purchase_auc": float(roc_auc_score(hold["purchased"], pb)),
               "xgboost_agent_auc": float(roc_auc_score(hold["label"], xgb_p)),
               "best_epoch": res.best_epoch, "epochs_run": len(res.history)}
    if truth is not None:
        metrics["oracle_purchase_auc"] = float(roc_auc_score(hold["purchased"], truth["p_purchase"]))
    mlflow.log_metrics(metrics)
    mlflow.log_params({"mt_epochs": cfg.mt_epochs, "mt_batch": cfg.mt_batch, "mt_lr": cfg.mt_lr,
                       "mt_alpha": cfg.mt_alpha, "mt_beta": cfg.mt_beta})
    example = hold[FEATURES + OFFER_FEATURES].head(100).reset_index(drop=True)
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(res.net.state_dict(), Path(tmp) / "weights.pt")
        (Path(tmp) / "scaler.json").write_text(json.dumps(res.scaler.to_dict()))
        mlflow.log_artifact(
            str(curves_png(res.history, res.best_epoch, ctx.run_dir / "multitask" / "learning_curves.png")),
            "multitask")
        out = pd.DataFrame({"p_agent": pa[:100], "p_purchase": pb[:100]})
        info = log_pyfunc(
            "pricing_multitask", "multitask",
            artifacts={"weights": str(Path(tmp) / "weights.pt"), "scaler": str(Path(tmp) / "scaler.json")},
            input_example=example.head(5), signature=infer_signature(example, out))
    log.info("multitask: %s", {k: round(float(v), 4) for k, v in metrics.items()})
    return {**state, "multitask_uri": info.model_uri, "purchase_auc": metrics["holdout_purchase_auc"],
            "multitask_agent_auc": metrics["holdout_agent_auc"]}
