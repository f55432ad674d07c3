"""MMM transforms against hand-computed values, and the weekly schema on the real data's head."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.mmm.data import read_weekly
from models.common.errors import BadInputError
from models.mmm.schema import CHANNELS, MEDIA
from models.mmm.spec import SpecError as SchemaError
from models.mmm.transforms import adstock, fourier, geometric_weights, hill
from tests.conftest import SHARED
from tests.mmm_reference import weibull_weights

HEAD = SHARED / "data" / "mmm" / "geoindia_head.csv"


def test_geometric_adstock_by_hand() -> None:
    w = geometric_weights(0.5, max_lag=3, normalize=False)
    np.testing.assert_allclose(w, [1, 0.5, 0.25])
    out = adstock(np.array([10.0, 0, 0, 4]), w)
    np.testing.assert_allclose(out, [10, 5, 2.5, 4])  # the pulse decays; lag 3 is beyond max_lag
    wn = geometric_weights(0.5, max_lag=3)
    assert wn.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(adstock(np.ones(5), wn)[2:], 1.0)  # normalised: a steady level is kept


def test_adstock_broadcasts_over_series_and_channels() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((4, 6, 30))  # series x channels x weeks
    w = geometric_weights(np.linspace(0.1, 0.8, 6), max_lag=16)  # one decay per channel
    out = adstock(x, w)
    ref = np.zeros_like(x)
    for t in range(30):  # the plain definition
        for lag in range(min(16, t + 1)):
            ref[..., t] += w[:, lag] * x[..., t - lag]
    np.testing.assert_allclose(out, ref)


def test_weibull_weights_shapes() -> None:
    cdf = weibull_weights(2.0, 3.0, max_lag=8, kind="cdf", normalize=False)
    np.testing.assert_allclose(cdf[:3], [1.0, np.exp(-1 / 9), np.exp(-4 / 9)])
    pdf = weibull_weights(3.0, 4.0, max_lag=12, kind="pdf")
    assert pdf.sum() == pytest.approx(1.0) and 1 <= int(np.argmax(pdf)) <= 4  # a delayed peak
    with pytest.raises(ValueError, match="shape and scale"):
        weibull_weights(0.0, 1.0)


def test_saturation_by_hand() -> None:
    assert hill(np.array([2.0]), half=2.0, slope=3.0)[0] == pytest.approx(0.5)
    assert hill(np.array([4.0]), half=2.0, slope=1.0)[0] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="half-point"):
        hill(np.ones(2), half=0.0, slope=1.0)


def test_fourier_basis() -> None:
    f = fourier(104, order=2, period=52.0)
    assert f.shape == (104, 4)
    np.testing.assert_allclose(f[52], f[0], atol=1e-12)  # one year later, the same season
    np.testing.assert_allclose(f[13, 0], 1.0)  # sin peaks a quarter into the year


@pytest.mark.skipif(not HEAD.exists(), reason=f"{HEAD} is absent")
def test_reads_the_real_head_with_date_or_week(tmp_path) -> None:
    df = read_weekly(HEAD)
    assert len(df) == 9 and df["week"].iloc[0] == pd.Timestamp("2022-07-04")
    assert set(MEDIA) <= set(df.columns) and len(CHANNELS) == len(MEDIA)
    week = pd.read_csv(HEAD).rename(columns={"Date": "Week"})
    week["Week"] = "2022-07-04"
    week.to_csv(tmp_path / "week.csv", index=False)
    pd.testing.assert_frame_equal(read_weekly(tmp_path / "week.csv"), df)
    bad = pd.read_csv(HEAD)
    bad["TV_Impressions"] = bad["TV_Impressions"].astype(object)
    bad.loc[3, "TV_Impressions"] = "12x"
    bad.loc[4, "Radio_Listenership"] = None
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SchemaError, match=r"column 'TV_Impressions', row 4 \(line 5\): '12x', not a finite number"):
        read_weekly(tmp_path / "bad.csv")
    bad.loc[3, "TV_Impressions"] = 1.0
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SchemaError, match=r"column 'Radio_Listenership', row 5 \(line 6\): empty"):
        read_weekly(tmp_path / "bad.csv")
    pd.read_csv(HEAD).drop(columns="Trade_Spend").to_csv(tmp_path / "missing.csv", index=False)
    with pytest.raises(BadInputError, match=r"missing column\(s\) 'Trade_Spend'; expected"):
        read_weekly(tmp_path / "missing.csv")


@pytest.fixture(scope="module")
def synthetic():
    from models.mmm.synth import MmmSpec, generate

    return generate(MmmSpec())


def test_synthetic_has_the_real_shape_and_columns(synthetic, tmp_path) -> None:
    from models.mmm.synth import to_kaggle_layout

    data, _ = synthetic
    assert data.shape == (156 * 72, 28)
    assert data.groupby(["Geo", "Brand", "SKU"]).ngroups == 72 and data["week"].nunique() == 156
    to_kaggle_layout(data).to_csv(tmp_path / "mmm.csv", index=False)
    if HEAD.exists():
        assert open(tmp_path / "mmm.csv").readline() == open(HEAD).readline()  # same header, same order
    back = read_weekly(tmp_path / "mmm.csv")
    np.testing.assert_allclose(back["Sales_Units"], data["Sales_Units"])
    # Geo-week drivers are shared by every SKU of a geo in a week, as in the real file.
    per_geo_week = data.groupby(["week", "Geo"])[
        ["Trade_Spend", "Weighted_Distribution", "CPI", "Festival_Index"]
    ].nunique()
    assert (per_geo_week == 1).all().all()


def test_synthetic_truth_adds_up_and_is_plausible(synthetic) -> None:
    from models.mmm.synth import MmmSpec, generate

    data, truth = synthetic
    c = truth.contributions
    mean_units = c["baseline"] + c[CHANNELS].sum(axis=1)
    rel = (data["Sales_Units"] - mean_units) / mean_units
    assert abs(rel.mean()) < 0.01 and 0.04 < rel.std() < 0.06  # 5% multiplicative noise around the truth
    assert (c[CHANNELS] >= 0).all().all()
    assert ((truth.roi["roi"] > 0.3) & (truth.roi["roi"] < 5)).all()
    nat = data.groupby("week")["Sales_Units"].sum()
    assert 3.5 < nat.iloc[-13:].mean() / nat.iloc[:13].mean() < 5.5  # growth carried by distribution and trade
    pair = data.groupby(["Geo", "SKU"])[["Facebook_Impressions", "Instagram_Impressions", "YouTube_Impressions"]].corr()
    fb = pair.xs("Facebook_Impressions", level=2)
    assert fb["Instagram_Impressions"].min() > 0.98  # the collinear digital pair
    assert fb["YouTube_Impressions"].abs().max() < 0.6  # YouTube is flighted on its own
    again, _ = generate(MmmSpec())
    pd.testing.assert_frame_equal(again, data)


def test_map_fit_tracks_the_data_and_gives_a_proper_laplace_covariance(synthetic) -> None:
    from models.mmm.model import contributions, fit, panel

    data, _ = synthetic
    small = panel(data[data["Geo"].isin(["CENTRAL", "SOUTH"])])
    fitted = fit(small, train_weeks=143, steps=400, lr=0.05)
    assert fitted.loss_history[-1] < fitted.loss_history[0]
    base, contrib = contributions(fitted)
    pred = base + contrib.sum(axis=1)
    holdout = slice(143, None)
    national = np.abs(pred[:, holdout].sum(0) / small.y[:, holdout].sum(0) - 1).mean()
    assert national < 0.05  # the last 13 weeks, never seen in the fit
    assert (contrib >= 0).all()
    eig = np.linalg.eigvalsh(fitted.cov)
    assert eig.min() > 0 and np.allclose(fitted.cov, fitted.cov.T)


def test_synthetic_true_response_curves(synthetic) -> None:
    data, truth = synthetic
    curves = truth.curves
    roi = truth.roi.set_index("channel")
    for ch, g in curves.groupby("channel"):
        at_one = g[np.isclose(g["multiplier"], 1.0)].iloc[0]
        assert at_one["incremental_units"] == pytest.approx(roi.loc[ch, "contribution_units"])
        assert at_one["incremental_value"] / at_one["spend"] == pytest.approx(roi.loc[ch, "roi"])
        assert g["incremental_value"].iloc[0] == 0 and (np.diff(g["incremental_value"]) > 0).all()
