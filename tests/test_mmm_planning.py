"""MMM after the fit: ROI recovery, four-level metrics, what-if, response curves, the constrained optimiser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.mmm.store import load_posterior, save_posterior
from models.mmm.evaluate import collinear_groups, level_metrics, recovery, recovery_summary, roi_table
from models.mmm.optimise import optimise
from models.mmm.response import (
    PlanError,
    Posterior,
    build_posterior,
    outcome,
    plan_multipliers,
    response_curves,
    value_and_gradient,
    whatif,
)
from models.mmm.schema import CHANNELS

GEOS = ["CENTRAL", "EAST", "SOUTH", "WEST"]


@pytest.fixture(scope="module")
def fitted():
    """A fit on 4 of the 8 synthetic geos (36 series), its truth and posterior."""
    from models.mmm.model import fit, panel
    from models.mmm.synth import MmmSpec, generate

    data, truth = generate(MmmSpec())
    keep = data["Geo"].isin(GEOS)
    d = panel(data[keep])
    f = fit(d, train_weeks=143, steps=600)
    post = build_posterior(f, d, horizon=13, n_draws=150, seed=0)
    contrib = truth.contributions[keep.to_numpy()]
    return data[keep].reset_index(drop=True), d, f, post, truth, contrib


def test_roi_recovery_on_a_small_synthetic_set(fitted) -> None:
    from models.mmm.model import channel_spend, contributions, roi_samples

    data, d, f, _, truth, contrib = fitted
    spend = channel_spend(d)
    groups = collinear_groups(d.media)
    assert [[CHANNELS[c] for c in g] for g in groups] == [["Facebook", "Instagram"]]
    table = roi_table(roi_samples(f, d, 150, seed=0), spend, groups, 0.9)
    value = (
        contrib[CHANNELS].to_numpy()
        * data.sort_values(["week", "Geo", "Brand", "SKU"])["Net_Price"].to_numpy()[:, None]
    ).sum(0)
    true_roi = pd.Series(value / spend, index=CHANNELS)
    _, est = contributions(f)
    rec = recovery(table, true_roi, contrib[CHANNELS].sum(), pd.Series(est.sum(axis=(0, 2)), index=CHANNELS))
    summary = recovery_summary(rec)
    # Most identified units (TV, YouTube, Print, Radio, Facebook+Instagram) inside their 90% interval.
    assert summary["identified_coverage"] >= 0.6, rec
    assert summary["identified_mean_abs_roi_error_pct"] < 30, rec
    assert rec.set_index("channel").loc["TV", "covered"]  # the biggest channel, well identified


def test_level_metrics_by_hand() -> None:
    keys = pd.DataFrame({"Geo": ["A", "A", "B"], "Brand": ["x", "y", "x"], "SKU": ["x1", "y1", "x1"]})
    actual = np.array([[10.0, 20.0], [5.0, 5.0], [10.0, 10.0]])
    pred = np.array([[11.0, 18.0], [5.0, 5.0], [10.0, 12.0]])
    m = level_metrics(keys, actual, pred, {"all": slice(None)}).set_index("level")
    national_a, national_p = np.array([25.0, 35.0]), np.array([26.0, 35.0])
    assert m.loc["national", "mape"] == pytest.approx(np.mean(np.abs(national_p - national_a) / national_a))
    assert m.loc["national", "r2"] == pytest.approx(1 - 1 / 50)  # SSE 1, SST 2 x 5^2
    assert m.loc["brand_national", "groups"] == 2 and m.loc["row", "groups"] == 3
    assert m.loc["row", "wmape"] == pytest.approx(5 / 60)


def test_posterior_round_trip_and_gradient(fitted, tmp_path) -> None:
    post = fitted[3]
    save_posterior(post, tmp_path / "p.npz")
    back = load_posterior(tmp_path / "p.npz")
    assert back.channels == post.channels and back.keys.equals(post.keys)
    np.testing.assert_array_equal(back.own, post.own)
    rng = np.random.default_rng(0)
    m = rng.uniform(0.5, 1.5, post.spend.shape)
    v, g = value_and_gradient(post, m)
    assert v == pytest.approx(outcome(post, m)[1][0])
    for s, c in [(0, 0), (5, 3), (20, 5)]:
        e = np.zeros_like(m)
        e[s, c] = 1e-5
        fd = (value_and_gradient(post, m + e)[0] - value_and_gradient(post, m - e)[0]) / 2e-5
        assert g[s, c] == pytest.approx(fd, rel=1e-4)


def test_whatif_plans_and_their_errors(fitted) -> None:
    post = fitted[3]
    same = pd.DataFrame({"channel": ["TV"], "scale": [1.0]})
    radio_a = float(post.spend[(post.keys["Brand"] == "BrandA").to_numpy(), CHANNELS.index("Radio")].sum())
    t = whatif(post, {"same": same, "more radio A": pd.DataFrame({"channel": ["Radio"], "brand": ["BrandA"],
                                                                    "spend": [2 * radio_a]})}).set_index("scenario")
    assert t.loc["same", "value"] == pytest.approx(t.loc["current", "value"])
    assert t.loc["more radio A", "spend"] == pytest.approx(t.loc["current", "spend"] + radio_a)
    assert (
        t.loc["more radio A", "delta_value_lo"] > 0
        and t.loc["more radio A", "value_lo"] < t.loc["more radio A", "value"]
    )
    for plan, msg in [
        ({"channel": ["Tv"], "scale": [1.0]}, "plan row 1: unknown channel 'Tv'"),
        ({"channel": ["TV"], "geo": ["MARS"], "scale": [1.0]}, "unknown geo 'MARS'"),
        ({"channel": ["TV"], "region": ["X"], "scale": [1.0]}, r"unknown level 'region'; this model's levels: \['Geo'"),
        ({"channel": ["TV"], "spend": [1.0], "scale": [1.0]}, "exactly one of spend or scale"),
        ({"channel": ["TV", "TV"], "brand": [None, "BrandB"], "scale": [1.0, 2.0]}, "plan row 2: TV overlaps"),
        ({"channel": ["TV"], "scale": [-1.0]}, "negative"),
    ]:
        with pytest.raises(PlanError, match=msg):
            plan_multipliers(post, pd.DataFrame(plan))


def test_response_curves_start_at_zero_and_rise(fitted) -> None:
    post = fitted[3]
    grid = np.linspace(0, 3, 13)
    curves = response_curves(post, grid)
    assert set(curves["level"]) == {"national", "Brand", "Geo"} and set(curves["channel"]) == set(CHANNELS)
    for _, g in curves.groupby(["level", "group", "channel"]):
        assert g["incremental_value"].iloc[0] == 0 and (np.diff(g["incremental_value"]) >= -1e-6).all()
    tv = curves[(curves["level"] == "national") & (curves["channel"] == "TV")]
    assert tv.loc[np.isclose(tv["multiplier"], 1.0), "spend"].iloc[0] == pytest.approx(post.spend[:, 0].sum())
    # Saturation: each extra unit of TV spend returns less than the one before (the MAP curve and its band).
    assert (np.diff(tv["marginal_roi"]) <= 1e-9).all() and (tv["marginal_roi_hi"] > tv["marginal_roi_lo"]).all()
    with pytest.raises(PlanError, match="start at 0"):
        response_curves(post, np.linspace(0.5, 2, 4))


def test_optimiser_respects_every_bound_and_beats_todays_split(fitted) -> None:
    post = fitted[3]
    budget = 1.1 * float(post.spend.sum())
    share = {"TV": (0.3, 0.4), "Print": (0.1, 0.2)}
    opt = optimise(post, budget, channel_share=share, cell_bounds=(0.5, 2.5), channel_cell_bounds={"Radio": (0.9, 1.1)})
    cells = opt.cells
    assert cells["optimal_spend"].sum() == pytest.approx(budget, rel=1e-6)
    lo = np.where(cells["channel"] == "Radio", 0.9, 0.5)
    hi = np.where(cells["channel"] == "Radio", 1.1, 2.5)
    assert (cells["multiplier"] >= lo - 1e-9).all() and (cells["multiplier"] <= hi + 1e-9).all()
    shares = opt.channels.set_index("channel")["optimal_share"]
    for ch, (a, b) in share.items():
        assert a - 1e-6 <= shares[ch] <= b + 1e-6
    assert opt.uplift["optimal_value"] >= opt.uplift["current_value"]
    # Moving spend between two cells of one channel keeps every constraint: it must not beat the optimum.
    _, v_opt = outcome(post, opt.multipliers)
    rng = np.random.default_rng(1)
    for _ in range(30):
        ch = rng.choice(cells["channel"].unique())
        i, j = rng.choice(np.flatnonzero((cells["channel"] == ch).to_numpy()), 2, replace=False)
        moved = cells["multiplier"].to_numpy().copy()
        delta = 0.05 * min(cells["current_spend"].iloc[i], cells["current_spend"].iloc[j])
        moved[i] += delta / cells["current_spend"].iloc[i]
        moved[j] -= delta / cells["current_spend"].iloc[j]
        if not (lo[[i, j]] <= moved[[i, j]]).all() or not (moved[[i, j]] <= hi[[i, j]]).all():
            continue
        assert outcome(post, _multipliers(post, cells.assign(multiplier=moved)))[1][0] <= v_opt[0] * (1 + 1e-7)


def _multipliers(post: Posterior, cells: pd.DataFrame) -> np.ndarray:
    """Series x channel multipliers of a cell table (channel x Brand x Geo)."""
    m = np.zeros_like(post.spend)
    for c, ch in enumerate(CHANNELS):
        per = cells[cells["channel"] == ch].set_index(["Brand", "Geo"])["multiplier"]
        idx = pd.MultiIndex.from_frame(post.keys[["Brand", "Geo"]])
        m[:, c] = per.reindex(idx).fillna(0.0).to_numpy()
    return m


@pytest.mark.parametrize("kwargs, msg", [
    ({"channel_share": {"TV": (0.7, 0.9), "Radio": (0.5, 0.6)}}, "minimum shares add up to 1.2"),
    ({"budget": 1e12}, "outside what the cell bounds allow"),
    ({"channel_share": {"Print": (0.6, 0.7)}}, "channel_share Print .* cannot be met within its cell bounds"),
    ({"channel_share": {"Tiktok": (0.0, 0.1)}}, "unknown channel 'Tiktok'"),
    ({"cell_bounds": (2.0, 1.0)}, "0 <= lo <= hi"),
])
def test_optimiser_infeasible_requests_say_which_bound(fitted, kwargs, msg) -> None:
    with pytest.raises(PlanError, match=msg):
        optimise(fitted[3], **kwargs)


def test_weibull_adstock_and_logistic_saturation_fit_and_plan() -> None:
    """The alternative transforms: weights match the numpy Weibull, the fit tracks the holdout, the
    posterior's gradient matches finite differences under logistic saturation."""
    import torch

    from models.mmm.model import fit, panel
    from models.mmm.synth import MmmSpec, generate
    from models.mmm.transforms import saturate
    from tests.mmm_reference import weibull_weights

    data, truth = generate(MmmSpec(weeks=104))
    d = panel(data[data["Geo"].isin(["CENTRAL"])])
    f = fit(d, train_weeks=91, steps=200, adstock="weibull", saturation="logistic")
    q = f.net.natural(torch.as_tensor(f.theta))
    np.testing.assert_allclose(q["weights"].numpy(), weibull_weights(q["shape"].numpy(), q["scale"].numpy()), rtol=1e-9)
    x = np.array([0.0, 1.0, 2.0])
    lam = np.log(3.0)  # the logistic with half-point 1: (1 - e^(-lam x)) / (1 + e^(-lam x))
    np.testing.assert_allclose(saturate(x, 1.0, 7.0, "logistic"), (1 - np.exp(-lam * x)) / (1 + np.exp(-lam * x)))
    post = build_posterior(f, d, horizon=13, n_draws=30, seed=0)
    assert post.saturation == "logistic"
    _, v = outcome(post, np.ones_like(post.spend))
    actual = float((d.y[:, -13:] * d.price[:, -13:]).sum())
    assert abs(v[0] / actual - 1) < 0.05
    m = np.full(post.spend.shape, 0.8)
    _, g = value_and_gradient(post, m)
    e = np.zeros_like(m)
    e[2, 1] = 1e-5
    fd = (value_and_gradient(post, m + e)[0] - value_and_gradient(post, m - e)[0]) / 2e-5
    assert g[2, 1] == pytest.approx(fd, rel=1e-4)
