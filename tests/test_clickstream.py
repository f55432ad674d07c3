"""Synthetic clickstream, the Spark session features against the pandas reference, repairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from jobs.pricing_models.session_features import session_features
from jobs.pricing_models.validate import repair_events
from models.pricing.session_features import FEATURES
from models.pricing.synth import EVENT_TYPES, ClickstreamSpec, generate, generate_chunk, products
from tests.session_features_pandas import session_features_pandas


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    spec = ClickstreamSpec(n_sessions=20_000, seed=3, chunk_sessions=10_000)
    parts = list(generate(spec))
    return tuple(pd.concat([p[i] for p in parts], ignore_index=True) for i in range(3))  # type: ignore[return-value]


def test_generator_is_deterministic_per_chunk(sample) -> None:
    spec = ClickstreamSpec(n_sessions=20_000, seed=3, chunk_sessions=10_000)
    events, offers, truth = generate_chunk(spec, 1, products(spec))
    pd.testing.assert_frame_equal(truth.reset_index(drop=True), sample[2].iloc[10_000:].reset_index(drop=True))
    assert set(events["eventType"]) <= set(EVENT_TYPES) and events["sessionId"].nunique() == 10_000


def test_oracle_is_high_but_not_perfect_and_llm_agents_are_hard(sample) -> None:
    truth = sample[2]
    oracle = roc_auc_score(truth["is_agent"], truth["p_agent"])
    assert 0.93 <= oracle <= 0.98
    human_like = truth["profile"] == "human_like"
    assert roc_auc_score(truth.loc[human_like, "is_agent"], truth.loc[human_like, "p_agent"]) < oracle - 0.02
    assert set(truth["kind"]) == {"human", "scraper", "price_monitor", "llm_agent"}
    noise = (truth["label"] != truth["is_agent"]).mean()
    assert 0.01 < noise < 0.03  # the configured 2% label noise


def test_purchase_truth_humans_more_price_sensitive(sample) -> None:
    truth = sample[2]
    assert (
        truth.loc[truth["kind"] == "human", "beta"].iloc[0]
        < truth.loc[truth["kind"] == "llm_agent", "beta"].iloc[0]
        < 0
    )
    offers = sample[1]
    assert offers["purchased"].mean() == pytest.approx(truth["p_purchase"].mean(), abs=0.02)


def test_spark_features_match_the_pandas_reference(spark, sample) -> None:
    events = sample[0]
    small = events[events["sessionId"].isin(events["sessionId"].unique()[:250])].copy()
    # Shuffle rows and add a one-event session without products: order and edge cases must not matter.
    small = small.sample(frac=1.0, random_state=1)
    edge = small.iloc[[0]].assign(sessionId="edge", eventType="search", productId=-1, category=None, price=np.nan)
    small = pd.concat([small, edge], ignore_index=True)
    got = session_features(spark.createDataFrame(small)).toPandas().sort_values("sessionId", ignore_index=True)
    want = session_features_pandas(small).sort_values("sessionId", ignore_index=True)
    assert list(got["sessionId"]) == list(want["sessionId"])
    for col in FEATURES:
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-9, atol=1e-9, err_msg=col)
    row = got[got["sessionId"] == "edge"].iloc[0]
    assert row["n_events"] == 1 and row["gap_mean"] == 0 and row["unique_products"] == 0


def test_repairs_drop_exact_duplicates_and_sort_sessions(sample) -> None:
    ev = sample[0].head(500).copy()
    first = ev["sessionId"].iloc[0]
    s = ev.index[ev["sessionId"] == first]
    ev.loc[s[[0, 1]], "timestamp"] = ev.loc[s[[1, 0]], "timestamp"].to_numpy()  # swap two events
    dup = pd.concat([ev, ev.iloc[[3, 4, 5]]], ignore_index=True)
    fixed, counts = repair_events(dup)
    assert counts == {"duplicate_events_dropped": 3, "sessions_reordered": 1}
    assert len(fixed) == 500
    assert (fixed.groupby("sessionId")["timestamp"].diff().dropna() >= 0).all()


def test_spark_repairs_equal_the_pandas_repairs(sample, spark, tmp_path) -> None:
    """Same counts and the same rows in the same order within each session, with duplicates that sit apart in
    the file, a session whose events go back in time, and two events at the same time."""
    from jobs.pricing_models.validate import repair_events_spark

    ev = sample[0].head(3000).copy()
    sizes = ev["sessionId"].value_counts()
    long = sizes.index[sizes >= 3][:4]
    for sid in long[:3]:
        s = ev.index[ev["sessionId"] == sid]
        ev.loc[s[[0, 2]], "timestamp"] = ev.loc[s[[2, 0]], "timestamp"].to_numpy()
    s = ev.index[ev["sessionId"] == long[3]]
    ev.loc[s[1], "timestamp"] = ev.loc[s[0], "timestamp"]  # a tie: file order decides
    dup = pd.concat([ev, ev.iloc[[3, 4, 5, 1500]], ev.iloc[[4]]], ignore_index=True)
    expected, counts = repair_events(dup)
    spark_counts = repair_events_spark(spark.createDataFrame(dup), tmp_path / "clean")
    assert spark_counts == counts == {"duplicate_events_dropped": 5, "sessions_reordered": 3}
    # Sessions are hash-partitioned: one part file each, rows in the order written within it.
    got = pd.concat([pd.read_parquet(f) for f in sorted((tmp_path / "clean").glob("part-*.parquet"))])
    got = got.sort_values("sessionId", kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)
