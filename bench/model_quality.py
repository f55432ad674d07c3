"""Training time and holdout quality on the demo data (1M synthetic rows, stratified 80/20).

Reports LightGBM with and without the id encodings, a logistic-regression baseline on
the same split, and the oracle AUC of the true click probabilities.
``python bench/model_quality.py`` (run bench/features_speed.py first, or it builds the features).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from common import CACHE, sample_parquet, synthetic_csv, write_result
from sklearn.metrics import roc_auc_score

from jobs.avazu_ctr.config import load
from jobs.avazu_ctr.train import load_split, params_from
from models.ctr.features import feature_names
from models.ctr.model import binary_metrics, logistic_baseline_auc, train_lgbm


def features(enc: bool) -> str:
    out = CACHE / f"features_1M_{'enc' if enc else 'noenc'}"
    if not (out / "manifest.json").exists():
        from jobs.avazu_ctr.features import write_features
        from jobs.spark import get_spark

        write_features(
            get_spark("bench.quality"), str(sample_parquet(1_000_000)), out, load("demo", {"use_id_encodings": enc})
        )
    return str(out)


def evaluate(enc: bool) -> tuple[dict, pd.DataFrame]:
    path, names = features(enc), feature_names(enc)
    t0 = time.perf_counter()
    train, hold = load_split(path, "train"), load_split(path, "holdout")
    load_s = time.perf_counter() - t0
    res = train_lgbm(train[names], train["click"].to_numpy(), params_from(load("demo")))
    p = res.booster.predict(hold[names], num_iteration=res.best_iteration)
    m = binary_metrics(hold["click"].to_numpy(), p)
    out = {"holdout_auc": round(m["auc"], 4), "holdout_logloss": round(m["logloss"], 4),
           "best_iteration": res.best_iteration, "train_seconds": round(res.seconds, 2),
           "load_seconds": round(load_s, 2), "train_rows": len(train)}
    if enc:
        t1 = time.perf_counter()
        out["logistic_regression_auc"] = round(logistic_baseline_auc(train[names], train["click"].to_numpy(),
                                                                     hold[names], hold["click"].to_numpy()), 4)
        out["logistic_regression_seconds"] = round(time.perf_counter() - t1, 2)
    return out, hold[["id", "click"]]


def main() -> None:
    with_enc, hold = evaluate(True)
    without_enc, _ = evaluate(False)
    truth = pd.read_parquet(synthetic_csv(1_000_000)[1]).set_index("id")["p_click"]
    oracle = float(roc_auc_score(hold["click"], truth.loc[hold["id"]].to_numpy(np.float64)))
    write_result(
        "model_quality",
        {
            "targets": {"train_seconds": "< 20 s for 1M rows", "gap_to_oracle": "<= 0.01 AUC"},
            "data": "synthetic demo profile, 1,000,000 rows, seed 42, stratified 80/20",
            "oracle_auc": round(oracle, 4),
            "lightgbm_with_id_encodings": {**with_enc, "gap_to_oracle": round(oracle - with_enc["holdout_auc"], 4)},
            "lightgbm_without_id_encodings": {
                **without_enc,
                "gap_to_oracle": round(oracle - without_enc["holdout_auc"], 4),
            },
        },
    )


if __name__ == "__main__":
    main()
