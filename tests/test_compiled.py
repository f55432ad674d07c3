"""The compiled tree walks of the serving hot path give the libraries' own numbers, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from serving.compiled import tree_walk, xgboost_walk


def _data(n: int = 3000, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 100, d)
    y = (x[:, 0] / x[:, 0].std() + np.sin(x[:, 1]) + rng.normal(size=n) > 0.3).astype(int)
    x[rng.random(x.shape) < 0.05] = np.nan
    return x, y


@pytest.mark.parametrize("objective", ["binary:logistic", "reg:squarederror"])
def test_xgboost_walk_equals_inplace_predict(objective: str) -> None:
    import xgboost as xgb

    x, y = _data()
    booster = xgb.train({"objective": objective, "max_depth": 5, "eta": 0.3, "nthread": 1, "seed": 0},
                        xgb.DMatrix(x, label=y), num_boost_round=60)
    walk = xgboost_walk(booster)
    assert walk is not None
    probe, _ = _data(500, seed=1)
    want = booster.inplace_predict(probe)
    got = np.array([walk(row) for row in probe])
    assert np.array_equal(want.astype(np.float64), got), np.abs(want - got).max()


def test_xgboost_walk_refuses_what_it_does_not_implement() -> None:
    import xgboost as xgb

    x, y = _data(300)
    multi = xgb.train({"objective": "multi:softprob", "num_class": 3, "nthread": 1}, xgb.DMatrix(x, label=y % 3),
                      num_boost_round=3)
    assert xgboost_walk(multi) is None


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_tree_walk_equals_predict(kind: str) -> None:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    x, y = _data()
    labels = np.array(["0.9", "1.0", "1.1"])[(y + (x[:, 2] > 0)).astype(int)]
    model = (DecisionTreeClassifier(max_depth=5, random_state=0).fit(x, labels) if kind == "classifier"
             else DecisionTreeRegressor(max_depth=5, random_state=0).fit(x, y * 1.5 + (x[:, 2] > 0)))
    walk = tree_walk(model)
    assert walk is not None
    probe, _ = _data(500, seed=2)
    want = model.predict(probe)
    got = np.array([walk(row) for row in probe])
    assert (want == got).all()
