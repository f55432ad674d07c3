"""Thompson sampling over each slot's creatives, keyed by (platform, slot, location).

One Beta(alpha, beta) posterior per (key, creative) on the click rate. Tenants (platforms)
share nothing but the code: a key's arms only ever see that key's clicks. Cold start
comes from prior click data (impressions and clicks per key and creative, optionally
down-weighted); updates come from click events. Choosing for a batch of requests draws
all posteriors of the requests' keys at once (padded arrays, no per-request loop).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.bandits.thompson import thompson_shares

KEY = ["platform", "slot", "location"]


class BannerTS:
    """Multi-tenant Bernoulli Thompson sampling; ``arms`` holds KEY + creative, alpha, beta."""

    def __init__(self, prior_alpha: float = 1.0, prior_beta: float = 100.0) -> None:
        if prior_alpha <= 0 or prior_beta <= 0:
            raise ValueError("prior_alpha and prior_beta must be > 0")
        self.prior_alpha, self.prior_beta = prior_alpha, prior_beta
        self.arms = pd.DataFrame({c: pd.Series(dtype=object) for c in KEY} | {
            "creative": pd.Series(dtype="int64"), "alpha": pd.Series(dtype=float), "beta": pd.Series(dtype=float)})

    def add_creatives(self, creatives: pd.DataFrame) -> "BannerTS":
        """Register (KEY, creative) arms not seen before, at the prior."""
        new = creatives[KEY + ["creative"]].drop_duplicates()
        new = new.merge(self.arms[KEY + ["creative"]], how="left", indicator=True)
        new = new[new["_merge"] == "left_only"].drop(columns="_merge")
        new = new.assign(alpha=self.prior_alpha, beta=self.prior_beta)
        self.arms = pd.concat([self.arms, new], ignore_index=True).sort_values(KEY + ["creative"], ignore_index=True)
        return self

    def cold_start(self, prior: pd.DataFrame, weight: float = 1.0) -> "BannerTS":
        """Add prior click data (KEY, creative, impressions, clicks), each impression weighing ``weight``."""
        agg = prior.groupby(KEY + ["creative"], as_index=False)[["impressions", "clicks"]].sum()
        if (agg["clicks"] > agg["impressions"]).any() or (agg[["impressions", "clicks"]] < 0).any(axis=None):
            raise ValueError("prior click data needs 0 <= clicks <= impressions for every (key, creative)")
        self.add_creatives(agg)
        self._add(
            agg, weight * agg["clicks"].to_numpy(float), weight * (agg["impressions"] - agg["clicks"]).to_numpy(float)
        )
        return self

    def update(self, events: pd.DataFrame) -> "BannerTS":
        """Add click events (KEY, creative, click in {0, 1}), aggregated per arm first."""
        agg = events.groupby(KEY + ["creative"], as_index=False).agg(n=("click", "size"), clicks=("click", "sum"))
        self.add_creatives(agg)
        self._add(agg, agg["clicks"].to_numpy(float), (agg["n"] - agg["clicks"]).to_numpy(float))
        return self

    def _add(self, agg: pd.DataFrame, succ: np.ndarray, fail: np.ndarray) -> None:
        idx = self._arm_index(agg)
        for col, inc in (("alpha", succ), ("beta", fail)):
            values = self.arms[col].to_numpy(dtype=float, copy=True)
            np.add.at(values, idx, inc)
            self.arms[col] = values

    def _arm_index(self, frame: pd.DataFrame) -> np.ndarray:
        pos = self.arms[KEY + ["creative"]].reset_index().merge(frame[KEY + ["creative"]], how="right")
        return pos["index"].to_numpy()

    def _padded(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """Keys, and (keys x max creatives) arrays of alpha, beta and creative (-1 = no arm)."""
        arms = self.arms.assign(k=self.arms.groupby(KEY, sort=True).ngroup())
        arms["j"] = arms.groupby("k").cumcount()
        shape = (int(arms["k"].max()) + 1, int(arms["j"].max()) + 1)
        a, b, c = np.ones(shape), np.ones(shape), np.full(shape, -1)
        a[arms["k"], arms["j"]], b[arms["k"], arms["j"]] = arms["alpha"], arms["beta"]
        c[arms["k"], arms["j"]] = arms["creative"]
        keys = arms.drop_duplicates("k").sort_values("k")[KEY].reset_index(drop=True)
        return keys, a, b, c

    def choose(self, requests: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """One creative per request row (columns KEY): the argmax of one posterior draw per arm."""
        keys, a, b, c = self._padded()
        kid = requests[KEY].merge(keys.reset_index(), how="left", on=KEY)["index"]
        if kid.isna().any():
            missing = requests[KEY][kid.isna().to_numpy()].drop_duplicates().head(3).to_dict("records")
            raise KeyError(f"no creatives registered for key(s) {missing}")
        k = kid.to_numpy(int)
        draws = rng.beta(a[k], b[k])
        draws[c[k] < 0] = -1.0
        return c[k, np.argmax(draws, axis=1)]

    def action_probabilities(self, n_draws: int, rng: np.random.Generator) -> pd.DataFrame:
        """P(creative is chosen) per (key, creative): the share of posterior draws it wins."""
        parts = []
        for _, arms in self.arms.groupby(KEY, sort=True):  # a loop over keys (slots), not rows
            parts.append(
                arms.assign(prob=thompson_shares(arms["alpha"].to_numpy(), arms["beta"].to_numpy(), n_draws, rng))
            )
        return pd.concat(parts, ignore_index=True)
