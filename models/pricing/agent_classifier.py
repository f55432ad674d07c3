"""XGBoost agent classifier: training, operating threshold, metrics, SHAP importance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def train_booster(dtrain: Any, Xv: pd.DataFrame, yv: np.ndarray, rounds: int, depth: int, learning_rate: float,
                  seed: int, threads: int = 1) -> Any:
    """A binary:logistic Booster with early stopping (30 rounds) on the validation AUC.

    ``dtrain`` is any XGBoost DMatrix of the training rows: in memory, or built batch by batch in external
    memory (``jobs.pricing_models.classifier.external_memory``); both give the same trees."""
    import xgboost as xgb

    params = {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "auc"],
        "max_depth": depth,
        "eta": learning_rate,
        "subsample": 0.9,
        "colsample_bytree": 0.9,
        "min_child_weight": 2,
        "seed": seed,
        "nthread": threads,
        "tree_method": "hist",
    }
    return xgb.train(params, dtrain, num_boost_round=rounds, evals=[(xgb.DMatrix(Xv, label=yv), "valid")],
                     early_stopping_rounds=30, verbose_eval=False)


def predict(booster: Any, X: pd.DataFrame) -> np.ndarray:
    """P(agent) from the best iteration."""
    import xgboost as xgb

    return booster.predict(xgb.DMatrix(X), iteration_range=(0, booster.best_iteration + 1))


def operating_threshold(y: np.ndarray, p: np.ndarray, min_precision: float) -> float:
    """The threshold with the best F1 among those reaching ``min_precision`` (else the best F1)."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(y, p)
    prec, rec = prec[:-1], rec[:-1]
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    ok = prec >= min_precision
    return float(thr[np.argmax(np.where(ok, f1, -1.0))] if ok.any() else thr[np.argmax(f1)])


def binary_report(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC-AUC, PR-AUC, precision and recall at ``threshold``."""
    from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

    pred = (p >= threshold).astype(int)
    return {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
            "precision": float(precision_score(y, pred, zero_division=0)),
            "recall": float(recall_score(y, pred, zero_division=0)), "threshold": threshold}


def shap_importance(booster: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Mean |SHAP value| per feature (XGBoost's exact TreeSHAP, ``pred_contribs``)."""
    import xgboost as xgb

    contrib = booster.predict(xgb.DMatrix(X), pred_contribs=True, iteration_range=(0, booster.best_iteration + 1))
    imp = np.abs(contrib[:, :-1]).mean(axis=0)  # the last column is the bias
    return (pd.DataFrame({"feature": X.columns, "mean_abs_shap": imp})
            .sort_values("mean_abs_shap", ascending=False, ignore_index=True))
