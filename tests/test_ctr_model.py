"""CTR model helpers and the serving transform's input checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from models.ctr.features import ID_FIELDS, RAW_INPUTS, EncodingTables, feature_names, transform
from models.ctr.model import LgbmParams, binary_metrics, logistic_baseline_auc, stratified_holdout, train_lgbm


def _toy(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "banner_pos": rng.integers(0, 3, n).astype(np.int32),
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
    })
    logit = -1.5 + 1.2 * X["x1"] - 0.8 * (X["banner_pos"] == 1) + 0.5 * X["x1"] * X["x2"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return X, y


def test_lightgbm_learns_and_early_stops() -> None:
    X, y = _toy()
    res = train_lgbm(
        X, y, LgbmParams(num_boost_round=400, early_stopping_rounds=20, min_data_in_leaf=20, num_threads=2)
    )
    assert res.best_iteration < 400 and res.valid_auc > 0.7
    assert res.importance.loc[0, "feature"] == "x1"
    assert abs(res.importance["gain_share"].sum() - 1) < 1e-9


def test_training_is_deterministic() -> None:
    X, y = _toy()
    p = LgbmParams(num_boost_round=50, min_data_in_leaf=20, num_threads=2)
    a, b = train_lgbm(X, y, p), train_lgbm(X, y, p)
    np.testing.assert_array_equal(a.booster.predict(X), b.booster.predict(X))


def test_stratified_holdout_keeps_each_class_share() -> None:
    y = np.array([0] * 900 + [1] * 100)
    m = stratified_holdout(y, 0.1, 3)
    assert m[y == 0].sum() == 90 and m[y == 1].sum() == 10


def test_metrics_and_baseline() -> None:
    X, y = _toy()
    m = binary_metrics(y, np.full(len(y), y.mean()))
    assert m["auc"] == 0.5 and abs(m["mean_pred"] - m["mean_obs"]) < 1e-9
    auc = logistic_baseline_auc(X[:4000], y[:4000], X[4000:], y[4000:])
    assert 0.65 < auc < 0.95


def _tables() -> EncodingTables:
    counts = pd.DataFrame({
        "field": ["site_category", "site_category", "app_category", "site_id", "site_id", "site_id"],
        "value": ["aa", "bb", "cc", "s1", "s1", "s2"],
        "fold": [0, 1, 0, 0, 1, 1],
        "n": [3, 5, 2, 4, 6, 1],
        "s": [1, 1, 0, 2, 0, 1],
    })
    others = pd.DataFrame([{"field": f, "value": "v", "fold": 0, "n": 1, "s": 0} for f in ID_FIELDS if f != "site_id"])
    return EncodingTables.fit(pd.concat([counts, others], ignore_index=True), smoothing=2.0, n_folds=2)


def test_fit_full_and_out_of_fold_stats() -> None:
    t = _tables()
    assert abs(t.prior - 2 / 8) < 1e-12  # from the first field's rows: 8 impressions, 2 clicks
    assert t.codes["site_category"].to_pylist() == ["bb", "aa"]  # by descending count
    s = t.ids["site_id"]
    i = s.values.to_pylist().index("s1")
    assert s.cnt[i].tolist() == [10]  # training impressions; a training row counts the 9 others (below)
    prior = t.prior
    assert s.te[i, 0] == pytest.approx((2 + 2 * prior) / (10 + 2))
    assert s.te[i, 1] == pytest.approx((0 + 2 * prior) / (6 + 2))  # fold 0 rows see fold 1 only
    assert s.te[i, 2] == pytest.approx((2 + 2 * prior) / (4 + 2))


def test_transform_unseen_values_and_missing_columns() -> None:
    t = _tables()
    row = {c: 0 for c in RAW_INPUTS}
    row.update(hour=14102913, site_category="zz", app_category="cc", site_id="s1", site_domain="d",
               app_id="a", app_domain="ad", device_model="m", device_id="x", device_ip="y")
    raw = pd.DataFrame([row])
    out = transform(raw, t)
    assert out.loc[0, "hour_of_day"] == 13 and out.loc[0, "day_of_week"] == 2  # 2014-10-29 was a Wednesday
    assert out.loc[0, "site_category_code"] == -1 and out.loc[0, "app_category_code"] == 0
    assert out.loc[0, "cnt_site_id"] == 10 and out.loc[0, "cnt_device_ip"] == 0
    assert out.loc[0, "te_device_ip"] == t.prior  # unseen value -> prior
    trained = transform(raw, t, np.array([1]))  # a training row of fold 1: the others, out of fold
    s1 = t.ids["site_id"].values.to_pylist().index("s1")
    assert trained.loc[0, "cnt_site_id"] == 9 and trained.loc[0, "cnt_device_ip"] == 0
    assert trained.loc[0, "te_site_id"] == t.ids["site_id"].te[s1, 2]
    with pytest.raises(KeyError, match="device_ip"):
        transform(raw.drop(columns=["device_ip"]), t)


def test_fit_from_arrow_equals_fit_from_pandas() -> None:
    """Spark hands the counts over as Arrow (no Python object per id value); the tables are the same."""
    counts = pd.DataFrame({"field": ["site_category", "site_id", "site_id", "site_id", "device_ip"],
                           "value": ["aa", "s2", "s1", "s1", "ip"], "fold": [0, 1, 0, 1, 0],
                           "n": [3, 1, 4, 6, 2], "s": [1, 1, 2, 0, 1]})
    a = EncodingTables.fit(pa.Table.from_pandas(counts), smoothing=2.0, n_folds=2)
    b = EncodingTables.fit(counts, smoothing=2.0, n_folds=2)
    assert a.prior == b.prior and a.codes["site_category"].equals(b.codes["site_category"])
    for f in ("site_id", "device_ip"):
        assert a.ids[f].values.equals(b.ids[f].values)
        np.testing.assert_array_equal(a.ids[f].te, b.ids[f].te)
        np.testing.assert_array_equal(a.ids[f].cnt, b.ids[f].cnt)
    assert a.ids["site_id"].values.to_pylist() == ["s1", "s2"]  # sorted, so the tables are deterministic


def test_serving_frames_round_trip() -> None:
    t = _tables()
    back = EncodingTables.from_serving_frames(t.serving_frames(), t.prior)
    assert back.codes["site_category"].equals(t.codes["site_category"])
    np.testing.assert_array_equal(back.ids["site_id"].te[:, 0], t.ids["site_id"].te[:, 0])
    assert isinstance(back.ids["site_id"].values, pa.Array)
    assert feature_names(False)[:2] == ["hour_of_day", "day_of_week"]


@pytest.mark.slow
def test_out_of_core_training_equals_in_memory_training(spark, tmp_path: Path) -> None:  # noqa: ANN001
    """The same features trained from Parquet in batches (LightGBM Sequence, tiny row groups so batches and the
    bin sample cross many of them) and from a pandas frame: the same early-stopping split, the same trees, the
    same holdout predictions to 1e-9."""
    import pyarrow.csv as pacsv

    from jobs.avazu_ctr.config import load
    from jobs.avazu_ctr.features import write_features
    from jobs.avazu_ctr.sample import SampleSpec, sample_csv
    from jobs.avazu_ctr.train import fit
    from models.ctr.synth import SynthConfig, generate_chunks

    table, _ = next(generate_chunks(SynthConfig(seed=3), 30_000))
    pacsv.write_csv(table, tmp_path / "train.csv")
    sample_csv(tmp_path / "train.csv", tmp_path / "s.parquet", SampleSpec())
    cfg = load("smoke", {"num_boost_round": 60})
    manifest = write_features(spark, str(tmp_path / "s.parquet"), tmp_path / "features", cfg)
    # Re-write the train split with 2,000-row groups: the Sequence must stitch rows across groups and files.
    import pyarrow.parquet as pq

    for f in sorted((tmp_path / "features" / "data" / "split=train").glob("*.parquet")):
        pq.write_table(pq.read_table(f), f, row_group_size=2000)
    memory = fit(tmp_path / "features", cfg, manifest["features"])
    batches = fit(tmp_path / "features", load("smoke", {"num_boost_round": 60, "train_in_memory_rows": 0}),
                  manifest["features"])
    assert batches[0].best_iteration == memory[0].best_iteration
    trees = [r[0].booster.model_to_string().split("pandas_categorical:")[0] for r in (batches, memory)]
    assert trees[0] == trees[1]  # every tree, split and leaf (only the pandas-only footer differs)
    merged = memory[2].merge(batches[2], on="id", suffixes=("_mem", "_seq"))
    assert len(merged) == len(memory[2]) and np.allclose(merged["p_click_mem"], merged["p_click_seq"], atol=1e-9)
    assert batches[1]["auc"] == pytest.approx(memory[1]["auc"], abs=1e-12)
