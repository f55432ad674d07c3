"""LightGBM click-through-rate model: training with early stopping, metrics, baselines."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from models.common.streams import derived_seed
from models.ctr.features import CATEGORICAL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LgbmParams:
    """LightGBM settings of the CTR model (binary objective, AUC metric)."""

    learning_rate: float = 0.1
    num_leaves: int = 64
    min_data_in_leaf: int = 100
    num_boost_round: int = 1000
    early_stopping_rounds: int = 50
    seed: int = 42
    num_threads: int = 0

    def booster_params(self) -> dict:
        return {
            "objective": "binary",
            "metric": ["auc", "binary_logloss"],
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "feature_pre_filter": False,
            "verbose": -1,
        }


@dataclass
class TrainResult:
    """A fitted booster with what was seen while fitting it."""

    booster: lgb.Booster
    best_iteration: int
    seconds: float
    valid_auc: float
    importance: pd.DataFrame = field(repr=False)


def stratified_holdout(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a class-stratified random ``fraction`` of rows."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(y), dtype=bool)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        take = rng.choice(idx, size=int(round(fraction * len(idx))), replace=False)
        mask[take] = True
    return mask


def train_lgbm(X: pd.DataFrame, y: np.ndarray, params: LgbmParams, valid_fraction: float = 0.1) -> TrainResult:
    """Fit on ``X``; early stopping watches a stratified ``valid_fraction`` carved out of it.

    The holdout is never seen here, so its AUC stays an honest estimate.
    """
    cats = [c for c in CATEGORICAL if c in X.columns]
    valid = stratified_holdout(y, valid_fraction, derived_seed(params.seed, "ctr.valid_split"))
    dtrain = lgb.Dataset(X[~valid], y[~valid], categorical_feature=cats, free_raw_data=False)
    dvalid = lgb.Dataset(X[valid], y[valid], categorical_feature=cats, reference=dtrain)
    return _fit(dtrain, dvalid, params)


def train_lgbm_rows(rows: Callable[[np.ndarray], lgb.Sequence], y: np.ndarray, features: list[str],
                    params: LgbmParams, valid_fraction: float = 0.1) -> TrainResult:
    """:func:`train_lgbm` out of core: ``rows(index)`` reads the feature rows at those (sorted) positions as a
    LightGBM ``Sequence``; LightGBM picks its bin sample by random access and pushes the rows in batches, so
    only its binned dataset (about a byte per value) is held, never the raw float matrix. Same early-stopping
    split as :func:`train_lgbm` (only the labels ``y`` are in memory)."""
    cats = [c for c in CATEGORICAL if c in features]
    valid = stratified_holdout(y, valid_fraction, derived_seed(params.seed, "ctr.valid_split"))
    dtrain = lgb.Dataset(rows(np.flatnonzero(~valid)), y[~valid], feature_name=features, categorical_feature=cats)
    dvalid = lgb.Dataset(rows(np.flatnonzero(valid)), y[valid], feature_name=features, categorical_feature=cats,
                         reference=dtrain)
    return _fit(dtrain, dvalid, params)


def _fit(dtrain: lgb.Dataset, dvalid: lgb.Dataset, params: LgbmParams) -> TrainResult:
    lgb.register_logger(log)  # evaluation lines go to logging, not stdout
    t0 = time.time()
    evals: dict = {}
    booster = lgb.train(
        params.booster_params(), dtrain, num_boost_round=params.num_boost_round, valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False),
                   lgb.record_evaluation(evals), lgb.log_evaluation(period=50)],
    )
    seconds = time.time() - t0
    imp = pd.DataFrame({
        "feature": booster.feature_name(),
        "gain": booster.feature_importance("gain"),
        "splits": booster.feature_importance("split"),
    }).sort_values("gain", ascending=False, ignore_index=True)
    imp["gain_share"] = imp["gain"] / max(imp["gain"].sum(), 1e-12)
    best = booster.best_iteration or booster.current_iteration()
    return TrainResult(booster, best, seconds, float(evals["valid"]["auc"][best - 1]), imp)



def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, log loss, and mean predicted vs observed rate (calibration in the large)."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return {
        "auc": float(roc_auc_score(y, p)),
        "logloss": float(log_loss(y, p)),
        "mean_pred": float(p.mean()),
        "mean_obs": float(np.mean(y)),
    }


def logistic_baseline_auc(X_tr: pd.DataFrame, y_tr: np.ndarray, X_te: pd.DataFrame, y_te: np.ndarray) -> float:
    """Holdout AUC of a standardised L2 logistic regression on the same features (a reference)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def prep(X: pd.DataFrame) -> np.ndarray:
        Z = X.to_numpy(np.float64)
        cnt = [i for i, c in enumerate(X.columns) if c.startswith("cnt_")]
        Z[:, cnt] = np.log1p(Z[:, cnt])  # counts are heavy-tailed
        return Z

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0))
    model.fit(prep(X_tr), y_tr)
    return float(roc_auc_score(y_te, model.predict_proba(prep(X_te))[:, 1]))
