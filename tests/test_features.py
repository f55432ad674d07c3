"""Spark features against a plain pandas re-implementation, split properties, leakage, tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jobs.avazu_ctr.config import load
from jobs.avazu_ctr.features import read_tables, write_features
from jobs.avazu_ctr.sample import SampleSpec, sample_csv
from models.ctr.features import CODED_FIELDS, ID_FIELDS, N_FOLDS, feature_names, transform

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(spark, synthetic_csv: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("features")
    sample_csv(synthetic_csv[0], tmp / "sample.parquet", SampleSpec(rows=8000))
    cfg = load("smoke", {"encoding_smoothing": 5.0})
    manifest = write_features(spark, str(tmp / "sample.parquet"), tmp / "features", cfg)
    feats = pd.read_parquet(tmp / "features" / "data")
    feats["split"] = feats["split"].astype(str)
    raw = pd.read_parquet(tmp / "sample.parquet")
    return cfg, manifest, feats, raw, tmp


def _reference(raw: pd.DataFrame, split: pd.Series, fold: pd.Series, m: float) -> pd.DataFrame:
    """Straightforward pandas: per row, count and smoothed rate over the *other* training rows
    (other folds for training rows, all training rows for holdout rows)."""
    train = split == "train"
    prior = raw.loc[train, "click"].mean()
    out = pd.DataFrame(index=raw.index)
    for f in ID_FIELDS:
        key = raw[f].astype(str).astype(object)
        n_all = key[train].value_counts()
        s_all = raw.loc[train, "click"].groupby(key[train]).sum()
        cnt = key.map(n_all).fillna(0).to_numpy(dtype=np.int64, copy=True)
        te = ((key.map(s_all).fillna(0) + m * prior) / (key.map(n_all).fillna(0) + m)).to_numpy(dtype=float, copy=True)
        for k in range(N_FOLDS):
            rows = train & (fold == k)
            others = train & (fold != k)
            n_k = key[others].value_counts()
            s_k = raw.loc[others, "click"].groupby(key[others]).sum()
            te[rows.to_numpy()] = (
                (key[rows].map(s_k).fillna(0) + m * prior) / (key[rows].map(n_k).fillna(0) + m)
            ).to_numpy()
        cnt[train.to_numpy()] -= 1  # a training row does not count itself
        out[f"cnt_{f}"], out[f"te_{f}"] = cnt, te
    return out


def test_encodings_match_a_plain_pandas_implementation(built) -> None:
    cfg, manifest, feats, raw, _ = built
    df = raw.merge(feats[["id", "split", "fold"] + [c for c in feats if c.startswith(("cnt_", "te_"))]], on="id")
    assert set(df["fold"]) == set(range(N_FOLDS))
    ref = _reference(df, df["split"], df["fold"], cfg.encoding_smoothing)
    for f in ID_FIELDS:
        np.testing.assert_array_equal(df[f"cnt_{f}"].to_numpy(), ref[f"cnt_{f}"].to_numpy(), err_msg=f)
        np.testing.assert_allclose(df[f"te_{f}"].to_numpy(), ref[f"te_{f}"].to_numpy(), rtol=1e-12, err_msg=f)


def test_training_rows_never_see_their_own_click(built) -> None:
    """Out of fold: a training row's rate must not move with its own label.

    For a value seen in exactly one training row, the encoding must be the prior, whatever
    that row's click was (a leaky in-fold encoding would give (click + m p) / (1 + m)).
    """
    cfg, manifest, feats, raw, _ = built
    df = raw.merge(feats, on=["id", "click"], suffixes=("", "_f"))
    train = df[df["split"] == "train"]
    once = train[train["cnt_device_ip"] == 0]
    assert len(once) > 100
    np.testing.assert_allclose(once["te_device_ip"], manifest["prior"], rtol=1e-12)


def test_stratified_split_keeps_the_class_ratio(built) -> None:
    _, manifest, feats, _, _ = built
    rates = feats.groupby("split")["click"].mean()
    share = (feats["split"] == "holdout").mean()
    assert abs(share - 0.2) < 0.005
    assert abs(rates["train"] - rates["holdout"]) < 0.003
    assert manifest["rows"] == feats["split"].value_counts().to_dict()
    assert feats["id"].is_unique


def test_time_split_holds_out_the_last_day(spark, built) -> None:
    _, _, _, _, tmp = built
    manifest = write_features(
        spark, str(tmp / "sample.parquet"), tmp / "features_time", load("smoke", {"split": "time"})
    )
    feats = pd.read_parquet(tmp / "features_time" / "data")
    feats["split"] = feats["split"].astype(str)
    assert set(feats.loc[feats["split"] == "holdout", "day"]) == {feats["day"].max()}
    assert feats.loc[feats["split"] == "train", "day"].max() < feats["day"].max()
    assert manifest["split"] == "time"


def test_serving_transform_reproduces_the_holdout_features(built) -> None:
    """The pandas transform with the saved tables gives the Spark features of holdout rows."""
    cfg, manifest, feats, raw, tmp = built
    tables = read_tables(tmp / "features" / "encodings")
    hold = feats[feats["split"] == "holdout"].set_index("id")
    rows = raw[raw["id"].isin(hold.index)].set_index("id")
    got = transform(rows, tables)
    names = feature_names(True)
    assert manifest["features"] == names
    pd.testing.assert_frame_equal(got[names].reset_index(drop=True), hold.loc[rows.index, names].reset_index(drop=True),
                                  check_dtype=False, rtol=1e-12)


def test_codes_rank_values_by_training_frequency(built) -> None:
    _, _, feats, raw, tmp = built
    tables = read_tables(tmp / "features" / "encodings")
    train_ids = feats.loc[feats["split"] == "train", "id"]
    for c in CODED_FIELDS:
        counts = raw[raw["id"].isin(train_ids)][c].value_counts()
        assert tables.codes[c][0].as_py() == counts.index[0]


def test_without_id_encodings(spark, built) -> None:
    _, _, _, _, tmp = built
    manifest = write_features(
        spark, str(tmp / "sample.parquet"), tmp / "f_noenc", load("smoke", {"use_id_encodings": False})
    )
    cols = pd.read_parquet(tmp / "f_noenc" / "data").columns
    assert not any(c.startswith(("cnt_", "te_")) for c in cols)
    assert manifest["features"] == feature_names(False)
    assert json.loads((tmp / "f_noenc" / "manifest.json").read_text())["use_id_encodings"] is False



def _id_table(values: list[str]) -> object:
    from models.ctr.features import IdTable

    return IdTable(pa.array(values), np.zeros((len(values), 1), np.int64), np.zeros((len(values), 1)))


def _index_in(keys: pa.Array, values: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.index_in(keys, value_set=values), -1).to_numpy(zero_copy_only=False)


def test_an_id_table_keeps_its_hash_index_but_never_ships_it() -> None:
    """The lookup index is built once per process (not per batch) and left out of the pickle that Spark
    broadcasts; positions are those of Arrow's index_in, -1 for unseen and null keys."""
    import pickle

    table = _id_table(["a1", "b2", "c3", "d4"])
    keys = pa.array(["c3", "zz", None, "a1", "d4", "c3"])
    expected = _index_in(keys, table.values)
    np.testing.assert_array_equal(table.positions(keys), expected)
    index = table._index
    assert index is not None and index.dtype == np.uint64
    assert table.positions(keys[:2]).tolist() == [2, -1] and table._index is index
    shipped = pickle.loads(pickle.dumps(table))
    assert shipped._index is None and b"Index" not in pickle.dumps(table)
    np.testing.assert_array_equal(shipped.positions(keys), expected)


def test_a_key_that_only_shares_a_hash_is_unseen(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a weak hash (the first letter), a key colliding with a table value is not taken for it, and
    table values that collide with each other fall back to an index of the strings."""
    import models.ctr.features as features

    monkeypatch.setattr(features, "_hash", lambda s: np.array(
        [ord(x[0]) if x else 0 for x in s.to_pylist()], dtype=np.uint64))
    table = _id_table(["a1", "b2", "c3", "d4"])
    keys = pa.array(["c9", "c3", "a1", "ax", None, "q"])
    assert table.positions(keys).tolist() == [-1, 2, 0, -1, -1, -1]
    clashing = _id_table(["a1", "a2", "b1"])
    assert clashing.positions(keys).tolist() == [-1, -1, 0, -1, -1, -1] and clashing._index.dtype == object
    np.testing.assert_array_equal(clashing.positions(pa.array(["a2", "b1", "b2"])), [1, 2, -1])
