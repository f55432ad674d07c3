"""The synthetic Avazu generator: schema, formats, click rate, difficulty, determinism."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.metrics import roc_auc_score

from models.ctr.synth import (
    AVAZU_COLUMNS,
    HASHED_COLUMNS,
    RAW_SCHEMA,
    SynthConfig,
    build_world,
    draw_ctr,
    draw_impressions,
    generate_chunks,
)


@pytest.fixture(scope="module")
def sample() -> tuple[pa.Table, np.ndarray]:
    table, p = next(generate_chunks(SynthConfig(seed=3), 100_000, chunk_rows=100_000))
    return table, p


def test_schema_and_formats(sample: tuple[pa.Table, np.ndarray]) -> None:
    table, _ = sample
    assert tuple(table.column_names) == AVAZU_COLUMNS
    assert table.schema == RAW_SCHEMA
    assert pc.all(pc.match_substring_regex(table["id"], r"^[0-9]{1,20}$")).as_py()
    assert pc.max(pc.utf8_length(table["id"])).as_py() == 20
    for col in HASHED_COLUMNS:
        assert pc.all(pc.match_substring_regex(table[col], r"^[0-9a-f]{8}$")).as_py(), col
    hours = table["hour"].to_numpy()
    assert set(np.unique(hours // 100)) == set(range(141021, 141031))  # 10 days of October 2014
    assert (hours % 100).max() <= 23
    assert set(np.unique(table["click"].to_numpy())) == {0, 1}


def test_click_rate_and_oracle_difficulty(sample: tuple[pa.Table, np.ndarray]) -> None:
    table, p = sample
    y = table["click"].to_numpy()
    assert 0.15 < y.mean() < 0.19
    oracle = roc_auc_score(y, p)
    assert 0.74 < oracle < 0.81, oracle  # where good real Avazu models sit, not trivially learnable


def test_heavy_tailed_ids(sample: tuple[pa.Table, np.ndarray]) -> None:
    table, _ = sample
    counts = np.sort(table["site_id"].value_counts().field("counts").to_numpy())[::-1]
    assert counts[0] > 0.2 * table.num_rows  # the placeholder for app traffic dominates, as in Avazu
    ips = table["device_ip"].value_counts().field("counts").to_numpy()
    assert (ips == 1).sum() > 0.5 * len(ips)  # most IPs are seen once
    assert ips.max() > 100  # a few busy shared IPs


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a, pa_ = next(generate_chunks(SynthConfig(seed=5), 2000))
    b, pb = next(generate_chunks(SynthConfig(seed=5), 2000))
    c, _ = next(generate_chunks(SynthConfig(seed=6), 2000))
    assert a.equals(b) and np.array_equal(pa_, pb)
    assert not a.equals(c)


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="target_ctr"):
        SynthConfig(target_ctr=1.5)
    with pytest.raises(ValueError, match="n_rows"):
        next(generate_chunks(SynthConfig(), 0))


def test_the_ctr_alone_is_what_the_table_draws() -> None:
    """A market without a CTR model reads only the true CTR and the hour: draw_ctr skips the table, and must
    give exactly the table's numbers for the same stream (else skipping it would change every market)."""
    world = build_world(SynthConfig(seed=5))
    table, p = draw_impressions(world, 5000, np.random.default_rng(9), row_offset=0)
    p_alone, hod = draw_ctr(world, 5000, np.random.default_rng(9))
    np.testing.assert_array_equal(p_alone, p)
    np.testing.assert_array_equal(hod, table["hour"].to_numpy() % 100)
    assert not np.array_equal(draw_ctr(world, 5000, np.random.default_rng(10))[0], p)  # the stream decides


@pytest.mark.parametrize("values", [None, [0, 1, 2, 3, 4, 5, 7]])
def test_a_precomputed_cdf_draws_what_generator_choice_draws(values: list[int] | None) -> None:
    """The impression draws reuse each distribution's cdf (``_pick``) instead of ``rng.choice(..., p=p)``: the same
    values from the same seed, and the generator left in the same state, so every later draw is unchanged too."""
    from models.ctr.synth import _cdf, _pick

    for seed in range(20):
        g = np.random.default_rng(seed)
        k = len(values) if values else int(g.integers(2, 6000))
        p = g.random(k) ** 3
        p[g.random(k) < 0.2] = 0.0  # impossible values: repeated cdf entries, which the draw must step over
        p /= p.sum()
        n = int(g.integers(1, 5000))
        a, b = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
        drawn = a.choice(values if values else k, size=n, p=p)
        idx = _pick(b, _cdf(p), n)
        np.testing.assert_array_equal(drawn, np.asarray(values)[idx] if values else idx)
        assert a.random() == b.random()


def test_the_guided_search_is_searchsorted_at_every_edge() -> None:
    """The guide table's search returns ``searchsorted(side="right")`` on the draws where a slip would show: each
    cdf entry itself, the guide's bucket edges, the floats just either side of both, 0 and the float below 1."""
    from models.ctr.synth import _cdf, _inverse_cdf

    g = np.random.default_rng(7)
    # Equal weights put cdf entries on the guide's bucket edges (1/6 x 5 = 10/12), where a draw just below an
    # entry lands in the bucket above it once multiplied out: the search must step back.
    for k, p in [(k, g.random(k) ** 4) for k in (1, 2, 5, 24, 3000)] + [(k, np.ones(k)) for k in (6, 10, 12)]:
        if k > 12:
            p[g.random(k) < 0.3] = 0.0
            p[-1] += 1e-3
        cdf, guide = _cdf(p / p.sum())
        edges = np.arange(len(guide)) / len(guide)
        u = np.concatenate([cdf, edges, [0.0, np.nextafter(1.0, 0.0)], g.random(1000)])
        u = np.clip(np.concatenate([u, np.nextafter(u, 0.0), np.nextafter(u, 1.0)]), 0.0, np.nextafter(1.0, 0.0))
        out = np.empty(len(u), dtype=np.int64)
        _inverse_cdf(cdf, guide, u, out)
        np.testing.assert_array_equal(out, cdf.searchsorted(u, side="right"), err_msg=f"{k} entries")
