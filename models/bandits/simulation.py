"""Beta-Binomial posteriors per segment, allocation policies, and their simulation against a world.

A segment's conversion rate per click has a Beta posterior (discounted so that old days
weigh less while rates drift); its clicks per unit of budget are estimated from the same
discounted facts. Policies turn posteriors into a target plan, which is always projected
onto the pacing constraints (floor, day-to-day cap, sum 1). The oracle knows today's true
rates and solves the same constrained problem; regret is the oracle's expected
conversions minus the policy's, both computed from the true rates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.bandits.allocation import best_feasible_shares, project_shares
from models.bandits.thompson import thompson_shares
from models.bandits.world import SegmentWorld, drifting_world, outcomes
from models.common.intervals import ratio_interval, t_interval
from models.common.streams import stream

POLICIES = ("thompson", "greedy", "epsilon_greedy", "uniform")


@dataclass
class SegmentPosterior:
    """Discounted Beta(alpha, beta) on CVR plus discounted clicks and spend per segment."""

    keys: np.ndarray
    prior_alpha: float
    prior_beta: float
    discount: float
    conv: np.ndarray
    fails: np.ndarray
    clicks: np.ndarray
    spent: np.ndarray
    clicks_per_unit_prior: float = 1.0

    @classmethod
    def from_facts(cls, facts: pd.DataFrame, prior_alpha: float = 1.0, prior_beta: float = 30.0,
                   discount: float = 1.0, keys: np.ndarray | None = None) -> "SegmentPosterior":
        """Cold start from historical facts (day, segment_key, clicks, conv, spent).

        A fact ``k`` days older than the newest day weighs ``discount ** k``.
        """
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount}")
        days = pd.to_datetime(facts["day"])
        age = (days.max() - days).dt.days.to_numpy()
        w = discount ** age
        weighted = pd.DataFrame({
            "segment_key": facts["segment_key"].to_numpy(),
            "conv": w * facts["conv"].to_numpy(), "clicks": w * facts["clicks"].to_numpy(),
            "spent": w * facts["spent"].to_numpy(),
        }).groupby("segment_key", sort=True).sum()
        if keys is not None:
            weighted = weighted.reindex(keys, fill_value=0.0)
        total_clicks, total_spent = weighted["clicks"].sum(), weighted["spent"].sum()
        cpu = float(total_clicks / total_spent) if total_spent > 0 and total_clicks > 0 else 1.0
        return cls(
            keys=weighted.index.to_numpy(dtype=object), prior_alpha=prior_alpha, prior_beta=prior_beta,
            discount=discount, conv=weighted["conv"].to_numpy(float),
            fails=(weighted["clicks"] - weighted["conv"]).to_numpy(float),
            clicks=weighted["clicks"].to_numpy(float), spent=weighted["spent"].to_numpy(float),
            clicks_per_unit_prior=cpu,
        )

    @property
    def alpha(self) -> np.ndarray:
        return self.prior_alpha + self.conv

    @property
    def beta(self) -> np.ndarray:
        return self.prior_beta + self.fails

    def cvr_mean(self) -> np.ndarray:
        return self.alpha / (self.alpha + self.beta)

    def cvr_interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        from scipy.stats import beta as beta_dist

        q = (1 - level) / 2
        return beta_dist.ppf(q, self.alpha, self.beta), beta_dist.ppf(1 - q, self.alpha, self.beta)

    def clicks_per_unit(self) -> np.ndarray:
        """Clicks per unit of budget, shrunk to the pooled rate by one unit of prior spend per click."""
        k = 1.0 / self.clicks_per_unit_prior  # prior weight: the spend that buys one click
        return (self.clicks + 1.0) / (self.spent + k)

    def value_mean(self) -> np.ndarray:
        """Posterior mean conversions per unit of budget."""
        return self.cvr_mean() * self.clicks_per_unit()

    def update(self, clicks: np.ndarray, conv: np.ndarray, spent: np.ndarray) -> None:
        """Age the evidence by one day, then add the day's facts."""
        d = self.discount
        self.conv = d * self.conv + conv
        self.fails = d * self.fails + (clicks - conv)
        self.clicks = d * self.clicks + clicks
        self.spent = d * self.spent + spent


def last_day_shares(facts: pd.DataFrame, keys: np.ndarray) -> np.ndarray:
    """The newest fact day's spend split over ``keys`` (uniform if nothing was spent)."""
    day = pd.to_datetime(facts["day"])
    spent = facts[day == day.max()].groupby("segment_key")["spent"].sum().reindex(keys, fill_value=0.0).to_numpy(float)
    return spent / spent.sum() if spent.sum() > 0 else np.full(keys.size, 1.0 / keys.size)


@dataclass(frozen=True)
class PolicySettings:
    """How every policy turns a posterior into a plan, and the pacing all of them obey."""

    floor: float = 0.002
    cap: float = 0.05
    n_draws: int = 2000
    mode: str = "best"
    epsilon: float = 0.1


def target_shares(policy: str, post: SegmentPosterior, rng: np.random.Generator, s: PolicySettings) -> np.ndarray:
    """The policy's unconstrained plan for tomorrow (before pacing)."""
    n = post.keys.size
    if policy == "thompson":
        return thompson_shares(post.alpha, post.beta, s.n_draws, rng, post.clicks_per_unit(), s.mode)
    if policy == "uniform":
        return np.full(n, 1.0 / n)
    best = np.zeros(n)
    if policy == "epsilon_greedy" and rng.random() < s.epsilon:
        best[rng.integers(n)] = 1.0  # an exploration day: chase a random segment
        return best
    best[np.argmax(post.value_mean())] = 1.0
    if policy in ("greedy", "epsilon_greedy"):
        return best
    raise ValueError(f"unknown policy {policy!r}; known: {POLICIES}")


def paced_plan(policy: str, post: SegmentPosterior, previous: np.ndarray, rng: np.random.Generator,
               s: PolicySettings) -> tuple[np.ndarray, np.ndarray]:
    """(target, plan): the policy's wish and the closest plan meeting floor, cap and sum."""
    target = target_shares(policy, post, rng, s)
    return target, project_shares(target, floor=s.floor, cap=s.cap, previous=previous, monotone=True)


@dataclass
class SimulationResult:
    """Per (policy, seed, day) outcomes, and the Thompson plans of the first seed."""

    daily: pd.DataFrame
    plans: pd.DataFrame
    posteriors: dict[str, SegmentPosterior] = field(default_factory=dict)


def simulate(world_for_seed: Callable[[int], SegmentWorld], start_day: int, horizon: int, budget: float,
             facts: pd.DataFrame, seeds: list[int], settings: PolicySettings, prior_alpha: float, prior_beta: float,
             discount: float, policies: tuple[str, ...] = POLICIES,
             progress: Callable[[int], None] | None = None) -> SimulationResult:
    """Run every policy and the oracle for ``horizon`` days from ``start_day`` on each seed.

    All policies of a seed share the world, the starting posterior (from ``facts``) and
    yesterday's plan (the last fact day's spend shares), and draw outcomes from the same
    per-day random streams, so their differences are the policies' and not the noise's.
    """
    rows, plans = [], []
    posteriors: dict[str, SegmentPosterior] = {}
    for seed in seeds:
        world = world_for_seed(seed)
        if start_day + horizon > world.n_days:
            raise ValueError(f"world has {world.n_days} days, simulation needs {start_day + horizon}")
        prev0 = project_shares(
            last_day_shares(facts, world.keys), floor=settings.floor
        )  # yesterday may have starved a segment
        oracle_prev = prev0.copy()
        oracle = []
        for day in range(start_day, start_day + horizon):
            oracle_plan = best_feasible_shares(world.value(day), settings.floor, settings.cap, oracle_prev)
            oracle.append(budget * float(oracle_plan @ world.value(day)))
            oracle_prev = oracle_plan
        for p_i, policy in enumerate(policies):
            post = SegmentPosterior.from_facts(facts, prior_alpha, prior_beta, discount, keys=world.keys)
            rng = stream(seed, "budget.policy", p_i)
            prev = prev0
            for k, day in enumerate(range(start_day, start_day + horizon)):
                target, plan = paced_plan(policy, post, prev, rng, settings)
                spend = budget * plan
                clicks, conv = outcomes(world, day, spend, stream(seed, "budget.outcomes", day))
                post.update(clicks, conv, spend)
                expected = float(spend @ world.value(day))
                rows.append((policy, seed, day, k, expected, oracle[k], int(conv.sum()), int(clicks.sum()),
                             float(spend.sum())))
                if policy == "thompson" and seed == seeds[0]:
                    plans.append(pd.DataFrame({"day": world.dates()[day].date(), "segment_key": world.keys,
                                               "target_share": target, "share": plan, "budget": spend,
                                               "clicks": clicks, "conv": conv,
                                               "true_conv_per_unit": world.value(day)}))
                prev = plan
            if seed == seeds[0]:
                posteriors[policy] = post
        if progress is not None:
            progress(1)
    daily = pd.DataFrame(rows, columns=["policy", "seed", "day", "step", "expected_conv", "oracle_conv",
                                        "conv", "clicks", "spend"])
    daily["regret"] = daily["oracle_conv"] - daily["expected_conv"]
    return SimulationResult(daily, pd.concat(plans, ignore_index=True) if plans else pd.DataFrame(), posteriors)


def summarise(daily: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per policy: cumulative regret and conversions with t-intervals over seeds, and cost per conversion as the
    ratio of spend to conversions over the seeds (its interval stays positive; models.common.intervals)."""
    per_seed = daily.groupby(["policy", "seed"]).agg(
        regret=("regret", "sum"), oracle=("oracle_conv", "sum"), expected=("expected_conv", "sum"),
        conv=("conv", "sum"), spend=("spend", "sum"))
    per_seed["regret_pct"] = 100 * per_seed["regret"] / per_seed["oracle"]
    out = []
    for policy, g in per_seed.groupby(level="policy", sort=False):
        n = len(g)
        row: dict[str, float | str | int] = {"policy": str(policy), "seeds": n}
        for col in ("regret", "regret_pct", "conv"):
            ci = t_interval(g[col], level)
            row.update({col: ci["mean"], f"{col}_lo": ci["lo"], f"{col}_hi": ci["hi"]})
        ci = ratio_interval(g["spend"], g["conv"], level)
        row.update({"cost_per_conv": ci["mean"], "cost_per_conv_lo": ci["lo"], "cost_per_conv_hi": ci["hi"]})
        out.append(row)
    return pd.DataFrame(out).sort_values("regret").reset_index(drop=True)


def world_from_posterior(post: SegmentPosterior, n_days: int, seed: int, cvr_drift: float, cpc_drift: float,
                         start: str) -> SegmentWorld:
    """A plausible world for real facts (no ground truth): rates drawn from the posterior, then drift."""
    rng = np.random.default_rng(seed)
    cvr0 = rng.beta(post.alpha, post.beta)
    return drifting_world(post.keys, np.log(cvr0 / (1 - cvr0)), -np.log(post.clicks_per_unit()), n_days, rng,
                          cvr_drift, cpc_drift, start)
