"""Multi-tenant banner Thompson sampling: cold start, updates, choices, action probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.bandits.banner import KEY, BannerTS


def _prior() -> pd.DataFrame:
    return pd.DataFrame({
        "platform": ["shopA"] * 3 + ["shopB"] * 2, "slot": [1, 1, 1, 1, 1], "location": ["home"] * 5,
        "creative": [10, 11, 12, 10, 99], "impressions": [1000, 1000, 1000, 500, 500], "clicks": [50, 5, 5, 1, 40]})


def test_cold_start_and_update_add_counts_to_the_prior() -> None:
    ts = BannerTS(1.0, 10.0).cold_start(_prior(), weight=0.5)
    arms = ts.arms.set_index(KEY + ["creative"])
    assert arms.loc[("shopA", 1, "home", 10), "alpha"] == 1 + 25
    assert arms.loc[("shopA", 1, "home", 10), "beta"] == 10 + 475
    events = pd.DataFrame({"platform": ["shopA"] * 4, "slot": [1] * 4, "location": ["home"] * 4,
                           "creative": [11, 11, 11, 13], "click": [1, 0, 1, 1]})
    ts.update(events)
    arms = ts.arms.set_index(KEY + ["creative"])
    assert arms.loc[("shopA", 1, "home", 11), "alpha"] == 1 + 2.5 + 2
    assert arms.loc[("shopA", 1, "home", 11), "beta"] == 10 + 497.5 + 1
    assert arms.loc[("shopA", 1, "home", 13), "alpha"] == 2  # a new creative starts at the prior
    assert arms.loc[("shopB", 1, "home", 99), "alpha"] == 1 + 20  # other tenants untouched


def test_choices_stay_within_the_tenant_and_follow_the_posterior() -> None:
    ts = BannerTS(1.0, 10.0).cold_start(_prior())
    req = pd.DataFrame({"platform": ["shopA"] * 3000 + ["shopB"] * 3000, "slot": 1, "location": "home"})
    chosen = ts.choose(req, np.random.default_rng(0))
    assert set(chosen[:3000]) <= {10, 11, 12} and set(chosen[3000:]) <= {10, 99}
    assert (chosen[:3000] == 10).mean() > 0.99 and (chosen[3000:] == 99).mean() > 0.99
    probs = ts.action_probabilities(5000, np.random.default_rng(1))
    np.testing.assert_allclose(probs.groupby(KEY)["prob"].sum(), 1.0)


def test_unknown_key_and_bad_prior_are_clear_errors() -> None:
    ts = BannerTS().cold_start(_prior())
    with pytest.raises(KeyError, match="no creatives registered for key"):
        ts.choose(pd.DataFrame({"platform": ["shopC"], "slot": [1], "location": ["home"]}), np.random.default_rng(0))
    bad = _prior().assign(clicks=[50, 5, 5, 1, 600])
    with pytest.raises(ValueError, match="0 <= clicks <= impressions"):
        BannerTS().cold_start(bad)
