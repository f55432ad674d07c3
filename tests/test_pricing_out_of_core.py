"""The pricing models trained from the session table a row group at a time equal (XGBoost) or match within a
stated tolerance (the multi-task net) their in-memory training; the table reads as it was written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.pricing_models.features import concat_parts
from jobs.pricing_models.sessions import gather, row_groups, split_mask, validation_mask
from models.pricing.multitask import Rows, fit_scaler, in_memory, train, train_chunks
from models.pricing.session_features import FEATURES


def session_table(n: int, seed: int = 0) -> pd.DataFrame:
    """Sessions with the table's columns whose labels depend on the features (so there is something to learn)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(np.abs(rng.normal(1, 1, size=(n, len(FEATURES)))), columns=FEATURES)
    logit = 2 * (df[FEATURES[0]] - 1) - 1.5 * (df[FEATURES[3]] - 1)
    df["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    df["list_price"] = rng.uniform(10, 100, n)
    df["offer_price"] = df["list_price"] * rng.uniform(0.8, 1.5, n)
    df["offer_category"] = rng.choice(["electronics", "fashion", "home", "books", "beauty"], n)
    df["offer_rating"] = rng.uniform(1, 5, n)
    buy = 0.5 - 3 * np.log(df["offer_price"] / df["list_price"]) - 1.0 * df["label"]
    df["purchased"] = (rng.random(n) < 1 / (1 + np.exp(-buy))).astype(np.int32)
    df["split"] = np.where(rng.random(n) < 0.2, "holdout", "train")
    df.insert(0, "sessionId", [f"s{i:07d}" for i in range(n)])
    return df


def write_table(df: pd.DataFrame, path: Path, group_rows: int) -> Path:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=group_rows)
    return path


def test_row_groups_and_gather_read_the_kept_rows_in_order(tmp_path: Path) -> None:
    df = session_table(1000)
    path = write_table(df, tmp_path / "s.parquet", 128)
    keep = split_mask(path, "train") & validation_mask(len(df), 3)
    expected = df[keep].reset_index(drop=True)
    pd.testing.assert_frame_equal(gather(path, keep, list(df.columns)), expected)
    shuffled = pd.concat(row_groups(path, keep, ["sessionId"], np.random.default_rng(0)), ignore_index=True)
    assert sorted(shuffled["sessionId"]) == list(expected["sessionId"])  # every kept row once
    assert list(shuffled["sessionId"]) != list(expected["sessionId"])  # in another order


def test_spark_parts_become_one_file_of_even_row_groups(tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    df = session_table(1000)
    for i, lo in enumerate(range(0, 1000, 333)):  # uneven parts, as a range partitioning writes them
        df.iloc[lo:lo + 333].to_parquet(parts / f"part-{i:05d}-x.snappy.parquet", index=False)
    (parts / "_SUCCESS").write_text("")
    rows = concat_parts(parts, tmp_path / "one.parquet", 256)
    meta = pq.ParquetFile(tmp_path / "one.parquet").metadata
    assert rows == 1000 and [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [256, 256, 256, 232]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one.parquet"), df)


def test_xgboost_from_row_groups_equals_in_memory_training(tmp_path: Path) -> None:
    """External memory (ExtMemQuantileDMatrix, 8 row groups) and a plain in-memory DMatrix grow the same trees."""
    import xgboost as xgb

    from jobs.pricing_models.classifier import COLUMNS, external_memory
    from models.pricing.agent_classifier import predict, train_booster

    df = session_table(4000)
    path = write_table(df, tmp_path / "s.parquet", 400)
    train = split_mask(path, "train")
    val = validation_mask(len(df), 1) & train
    v = gather(path, val, COLUMNS)
    with external_memory(str(path), train & ~val, threads=2) as dtrain:
        booster = train_booster(dtrain, v[FEATURES], v["label"].to_numpy(), 60, 4, 0.1, 7, threads=2)
    fit = df[train & ~val]
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "max_depth": 4, "eta": 0.1,
              "subsample": 0.9, "colsample_bytree": 0.9, "min_child_weight": 2, "seed": 7, "nthread": 2,
              "tree_method": "hist"}
    reference = xgb.train(params, xgb.DMatrix(fit[FEATURES], label=fit["label"]), 60,
                          evals=[(xgb.DMatrix(v[FEATURES], label=v["label"]), "valid")], early_stopping_rounds=30,
                          verbose_eval=False)
    hold = df[df["split"] == "holdout"]
    assert booster.best_iteration == reference.best_iteration and booster.num_boosted_rounds() > 10
    np.testing.assert_array_equal(predict(booster, hold[FEATURES]), predict(reference, hold[FEATURES]))


def rows(df: pd.DataFrame) -> Rows:
    from jobs.pricing_models.multitask import rows_of

    return rows_of(df)


def test_the_streamed_scaler_equals_numpy_statistics() -> None:
    r = rows(session_table(3000))
    chunks = [r.take(np.arange(i, min(i + 700, len(r)))) for i in range(0, len(r), 700)]
    s = fit_scaler(lambda rng: iter(chunks))
    ls = np.log1p(np.maximum(r.S, 0))
    np.testing.assert_allclose(s.mean_s, ls.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.std_s, ls.std(0) + 1e-6, rtol=1e-9)
    np.testing.assert_allclose(s.std_p, r.P.std(0) + 1e-6, rtol=1e-9)


def test_multitask_from_row_groups_matches_in_memory_training(tmp_path: Path) -> None:
    """Stated tolerance: holdout AUCs of both heads within 0.02 of in-memory training (the chunked shuffle never
    mixes two row groups in a mini-batch, so the numbers are not bit-equal); one row group is bit-equal."""
    from sklearn.metrics import roc_auc_score

    from jobs.pricing_models.multitask import COLUMNS
    from models.pricing.multitask import predict

    df = session_table(12_000)
    hold = df[df["split"] == "holdout"]
    train_mask = (df["split"] == "train").to_numpy()
    valid = validation_mask(len(df), 0) & train_mask
    r_all = rows(df)
    args = (10, 256, 2e-3, 1.0, 2.0, 3, 5)

    def aucs(res: object) -> tuple[float, float]:
        pa_, pb = predict(res.net, res.scaler, rows(hold).S, rows(hold).P)
        return roc_auc_score(hold["label"], pa_), roc_auc_score(hold["purchased"], pb)

    memory = train(r_all.S[train_mask], r_all.P[train_mask], r_all.y_agent[train_mask], r_all.y_buy[train_mask],
                   valid[train_mask], *args)
    results, fit = {}, train_mask & ~valid
    for groups in (len(df), 1000):
        path = write_table(df, tmp_path / f"s{groups}.parquet", groups)
        results[groups] = train_chunks(lambda rng, p=path: (rows(b) for b in row_groups(p, fit, COLUMNS, rng)),
                                       rows(gather(path, valid, COLUMNS)), *args)
    assert results[len(df)].history == memory.history  # one row group: the in-memory permutation exactly
    chunked, mem = aucs(results[1000]), aucs(memory)
    assert mem[0] > 0.7 and mem[1] > 0.6  # both heads learned something
    assert abs(chunked[0] - mem[0]) < 0.02 and abs(chunked[1] - mem[1]) < 0.02, (chunked, mem)
    assert results[1000].history != memory.history


def test_training_sample_caps_the_rows_held_for_the_train_loss() -> None:
    from models.pricing.multitask import training_sample

    r = rows(session_table(5000))
    assert len(training_sample(in_memory(r), 10_000, 0)) == 5000
    sample = training_sample(in_memory(r), 1000, 0)
    assert 850 < len(sample) < 1150
    assert len(training_sample(in_memory(r), 1000, 0)) == len(sample)  # seeded


def test_no_training_rows_is_a_clear_error() -> None:
    empty = rows(session_table(10)).take(np.arange(0))
    with pytest.raises(ValueError, match="no training rows"):
        fit_scaler(in_memory(empty))


def test_the_tree_learns_from_a_seeded_sample_of_training_sessions(tmp_path: Path) -> None:
    from jobs.pricing_models.config import load
    from jobs.pricing_models.distill import tree_sample

    df = session_table(5000)
    state = {"features_path": str(write_table(df, tmp_path / "s.parquet", 1000))}
    n_train = int((df["split"] == "train").sum())
    assert len(tree_sample(state, load("smoke", {"tree_fit_rows": 10_000}))) == n_train  # under the cap: all
    sample = tree_sample(state, load("smoke", {"tree_fit_rows": 1000}))
    assert 850 < len(sample) < 1150
    assert set(sample["offer_price"]) <= set(df.loc[df["split"] == "train", "offer_price"])
    pd.testing.assert_frame_equal(sample, tree_sample(state, load("smoke", {"tree_fit_rows": 1000})))
