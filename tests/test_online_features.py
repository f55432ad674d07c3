"""Online session features (models/pricing/online_features.py) equal the batch definitions on the same events:
the pandas reference here, the Spark job in the slow test, in any arrival order, and duplicates count once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.pricing.online_features import add_event, features, new_state
from models.pricing.session_features import FEATURES
from models.pricing.synth import ClickstreamSpec, generate
from tests.session_features_pandas import session_features_pandas


def clickstream(n_sessions: int, seed: int = 5) -> pd.DataFrame:
    return pd.concat([ev for ev, _, _ in generate(ClickstreamSpec(n_sessions=n_sessions, seed=seed))],
                     ignore_index=True)


def online(events: pd.DataFrame) -> pd.DataFrame:
    """Fold the events into one state per session in the frame's row order (as a service receives them)."""
    states: dict[str, dict] = {}
    for ev in events.to_dict("records"):
        ev["price"] = None if pd.isna(ev["price"]) else ev["price"]
        ev["category"] = None if pd.isna(ev["category"]) else ev["category"]
        add_event(states.setdefault(ev["sessionId"], new_state()), ev)
    return pd.DataFrame([{"sessionId": sid, **features(s)} for sid, s in states.items()])


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.set_index("sessionId").sort_index()[FEATURES]
    want = want.set_index("sessionId").sort_index()[FEATURES]
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-9, atol=1e-9)


def test_online_equals_batch_in_time_order_and_shuffled() -> None:
    events = clickstream(600)
    want = session_features_pandas(events)
    assert_same(online(events), want)
    shuffled = events.sample(frac=1.0, random_state=3)  # out of time order within sessions: gaps split exactly
    assert_same(online(shuffled), want)


def test_duplicate_event_counts_once_and_state_is_json() -> None:
    events = clickstream(30)
    one = events[events["sessionId"] == events["sessionId"].iloc[0]]
    state = new_state()
    records = one.to_dict("records")
    for ev in records:
        ev["price"] = None if pd.isna(ev["price"]) else ev["price"]
        ev["category"] = None if pd.isna(ev["category"]) else ev["category"]
    assert all(add_event(state, ev) for ev in records)
    before = features(state)
    assert not add_event(state, records[len(records) // 2])
    assert features(state) == before
    assert features(json.loads(json.dumps(state))) == before
    assert before["n_events"] == len(records)


def test_empty_session_is_all_zero() -> None:
    assert set(features(new_state()).values()) == {0.0}


@pytest.mark.slow
def test_online_equals_spark_on_thousands_of_sessions(spark, tmp_path) -> None:  # noqa: ANN001
    from jobs.pricing_models.session_features import session_features

    events = clickstream(3000, seed=9)
    events.to_parquet(tmp_path / "events.parquet", index=False)
    batch = session_features(spark.read.parquet(str(tmp_path / "events.parquet"))).toPandas()
    assert len(batch) == events["sessionId"].nunique() >= 3000
    assert_same(online(events.sample(frac=1.0, random_state=1)), batch)
