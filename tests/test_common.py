"""What several domains share: the t-interval over seeds, named random streams, the error kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.common.errors import BadInputError, GateError, error_kind
from models.common.intervals import t_half_width, t_interval
from models.common.streams import derived_seed, stream


def test_t_interval_by_hand_and_at_the_edges() -> None:
    ci = t_interval(pd.Series([2.0, 4.0, 3.0]))  # mean 3, sd 1, n 3: half = t(0.975, 2) / sqrt(3)
    assert ci["mean"] == 3.0 and ci["hi"] - 3.0 == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert ci["lo"] == pytest.approx(6.0 - ci["hi"])
    same = t_interval([2.0, np.nan, 4.0, np.inf, 3.0])  # undefined seeds are left out, not zero
    assert same.equals(ci)
    one = t_interval([5.0])
    assert one["mean"] == 5.0 and np.isnan(one["lo"]) and np.isnan(one["hi"])  # one seed says nothing of spread
    assert t_interval([np.nan, np.nan]).isna().all()
    assert t_interval([1.0, 2.0, 3.0], level=0.9)["hi"] < t_interval([1.0, 2.0, 3.0], level=0.95)["hi"]
    np.testing.assert_allclose(t_half_width(np.array([1.0, 1.0]), np.array([3, 1])), [4.302653 / np.sqrt(3), np.nan],
                               rtol=1e-6)


def test_named_streams_are_reproducible_distinct_and_keep_their_layout() -> None:
    a, b = stream(42, "market.inventory").random(5), stream(42, "market.inventory").random(5)
    assert np.array_equal(a, b) and not np.array_equal(a, stream(42, "market.ctr_noise").random(5))
    # The layout the pipelines always used, so their figures did not move.
    assert np.array_equal(a, np.random.default_rng([42, 11]).random(5))
    assert np.array_equal(stream(7, "avazu.impressions", 500).random(3), np.random.default_rng([7, 1, 500]).random(3))
    assert np.array_equal(stream(7, "budget.outcomes", 3).random(3), np.random.default_rng([7, 3, 7]).random(3))
    assert np.array_equal(stream(7, "clickstream.chunk", 2).random(3), np.random.default_rng([7, 2]).random(3))
    assert derived_seed(5, "rl.verdict", 2) == 1007
    with pytest.raises(KeyError, match="unknown random stream"):
        stream(1, "typo")


def test_error_kinds() -> None:
    from jobs.validation import DataValidationError
    from models.mmm.spec import SpecError as SchemaError

    assert error_kind(SchemaError("x")) == error_kind(BadInputError("x")) == "bad_input"
    assert issubclass(DataValidationError, BadInputError) and isinstance(SchemaError("x"), ValueError)
    assert error_kind(GateError("x")) == "gate" and error_kind(KeyError("x")) == "bug"


def test_background_writer_writes_in_order_and_surfaces_its_first_error() -> None:
    from jobs.background import BackgroundWriter

    got, flushed = [], []
    w = BackgroundWriter(got.append, lambda: flushed.append(True), "t")
    for i in range(20):
        w.put(i)
    w.close()
    assert got == list(range(20)) and flushed == [True]

    def fail_on_3(item: int) -> None:
        if item == 3:
            raise OSError("disk full")
        got.append(item)

    got.clear()
    w = BackgroundWriter(fail_on_3, lambda: flushed.append(True), "t", depth=1)
    with pytest.raises(OSError, match="disk full"):
        try:
            for i in range(10):
                w.put(i)
        finally:
            w.close()  # as the sinks do: closed whether or not a put failed
    assert got == [0, 1, 2] and flushed == [True, True]  # nothing after the error; closed all the same
