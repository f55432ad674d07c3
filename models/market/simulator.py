"""The retargeting market: scripted advertisers bidding for ad opportunities on a customer population.

Each timestep (an hour): Poisson(arrival_rate x customers) opportunities arrive, each a
customer and an impression context drawn from an inventory pool in Avazu's feature space.
The pool carries each impression's true click probability (the synthetic Avazu
generator's click model) and the bidders' estimate of it (the registered CTR champion
when one is given, else a noisy oracle), so a better CTR model is worth money here.
Advertisers bid pCTR x value per click x their strategy's multiplier on the stages they
target (retargeting bonus for customers who clicked them before); the auctions of the
step are resolved at once (models.market.auction: second price, reserve, increment, budgets with
even pacing); the winner's impression may be clicked, the click may lead to a cart and a
purchase (likelier further down the funnel, less likely for a dearer basket) whose revenue is
credited to the winner; customers then move through their
lifecycle (models.market.customers).
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from models.common.streams import stream
from models.market.auction import CENT, AuctionRules, even_pacing, priorities, run_auctions
from models.market.customers import (
    BUY_RATE,
    CART_RATE,
    CATEGORIES,
    CHURN_RISK,
    CONSIDERATION,
    ORDER_VALUE,
    STAGES,
    Customers,
    LifecycleRules,
    advance,
    make_customers,
    mark_clicks,
)

# Clicks are likelier further down the funnel: a stage multiplier on the impression's true CTR.
STAGE_CTR_LIFT = np.array([0.6, 0.9, 1.3, 0.8, 1.1, 1.2])
STAGE_INDEX = {name.lower(): i for i, name in enumerate(STAGES)}


@dataclass(frozen=True)
class Strategy:
    """One scripted advertiser (see jobs/profiles/market_advertisers.yaml)."""

    name: str
    multiplier: float
    stages: tuple[str, ...]
    retarget_bonus: float = 1.0
    adapt_rate: float = 0.0          # > 0: the multiplier follows the advertiser's own ROAS
    target_roas: float = 2.0
    value_per_click: float = 1.0
    daily_budget: float = 300.0

    def __post_init__(self) -> None:
        self.stage_mask()  # an unknown stage fails when the config is read, not mid-simulation

    def stage_mask(self) -> np.ndarray:
        mask = np.zeros(len(STAGES), dtype=bool)
        for s in self.stages:
            if s.lower() not in STAGE_INDEX:
                raise ValueError(f"advertiser {self.name!r}: unknown stage {s!r}; stages: {list(STAGE_INDEX)}")
            mask[STAGE_INDEX[s.lower()]] = True
        return mask


@dataclass(frozen=True)
class MarketConfig:
    customers: int = 10_000
    arrival_rate: float = 0.01          # opportunities per customer per step
    pool_size: int = 50_000             # distinct impression contexts
    world_seed: int = 42                # the synthetic Avazu world (avazu_ctr's seed)
    ctr_noise: float = 0.3              # log-sd of the noisy-oracle pCTR when no CTR model is given
    price_sensitivity: float = 1.0      # purchase probability x exp(-s x (basket price / usual - 1))
    seed: int = 0
    rules: AuctionRules = field(default_factory=AuctionRules)
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)


METRICS = ("auctions", "bids", "wins", "clicks", "carts", "conversions", "spend", "revenue")


@dataclass
class Market:
    """State of one simulation: customers, advertisers' multipliers and budgets, cumulative counters."""

    cfg: MarketConfig
    strategies: list[Strategy]
    customers: Customers
    pool_p: np.ndarray          # true CTR of each pool impression
    pool_pctr: np.ndarray       # the bidders' estimate: (pool,) shared, or (advertisers, pool) one per advertiser
    pool_hour: np.ndarray       # hour of day of the context (for plots)
    rng: np.random.Generator
    multipliers: np.ndarray
    affinity: np.ndarray        # (advertisers, categories): how much each advertiser values each category
    t: int = 0
    totals: dict[str, np.ndarray] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    last_auctions: dict[str, np.ndarray] = field(default_factory=dict)  # the last step's auction inputs and outcome
    last_opportunities: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # their customers
    _bid_terms: tuple[Any, ...] | None = None

    @property
    def k(self) -> int:
        return len(self.strategies)


@functools.lru_cache(maxsize=4)
def _world(world_seed: int) -> Any:
    """The synthetic Avazu world of ``world_seed``, built once per process: building it (a 200k-row
    calibration draw) took 80% of an RL env's reset, and every episode draws from the same world."""
    from models.ctr.synth import SynthConfig, build_world

    return build_world(SynthConfig(seed=world_seed))


def inventory(n: int, seed: int, ctr_model: Any = None, ctr_noise: float = 0.3,
              world_seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true CTR, estimated CTR, hour of day) of ``n`` synthetic Avazu impressions.

    ``world_seed``: the synthetic Avazu world (avazu_ctr's ``seed``).
    ``ctr_model``: a pyfunc (e.g. ``models:/ctr_lightgbm@champion``) scored once on the raw
    rows, or a float (the same estimate everywhere: no model); without one, the estimate is
    the truth with log-normal noise (``ctr_noise``).
    """
    from models.ctr.synth import draw_ctr, draw_impressions

    # The world (sites, apps, ads and their true effects) is the one avazu_ctr's synthetic source draws with
    # its seed (42 by default), so a CTR model trained there knows these ids; ``seed`` picks the impressions.
    world = _world(world_seed)
    rng = stream(seed, "market.inventory")
    if ctr_model is not None and not isinstance(ctr_model, float):  # a model scores the raw Avazu rows
        table, p = draw_impressions(world, n, rng, row_offset=0)
        hour = (table.column("hour").to_numpy() % 100).astype(np.int8)
        pctr = np.asarray(ctr_model.predict(table.drop(["click"]).to_pandas()), dtype=np.float64).ravel()
        return p, pctr, hour
    p, hod = draw_ctr(world, n, rng)  # the same draws as the table's, without the table
    hour = hod.astype(np.int8)
    if isinstance(ctr_model, float):  # one number for every impression: a market without a CTR model
        pctr = np.full(n, ctr_model)
    else:
        noise = stream(seed, "market.ctr_noise").normal(0, ctr_noise, n)
        pctr = np.clip(p * np.exp(noise - ctr_noise ** 2 / 2), 1e-4, 0.99)
    return p, pctr, hour


def make_market(cfg: MarketConfig, strategies: list[Strategy], ctr_model: Any = None,
                pool: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Market:
    """A seeded market; the same config and strategies give the same run. ``pool``: an inventory from
    :func:`inventory` shared by several runs (else one is drawn with ``cfg.seed``)."""
    if not strategies:
        raise ValueError("a market needs at least one advertiser")
    rng = np.random.default_rng(cfg.seed)
    p, pctr, hour = pool if pool is not None else inventory(cfg.pool_size, cfg.seed, ctr_model, cfg.ctr_noise,
                                                            cfg.world_seed)
    customers = make_customers(cfg.customers, len(strategies), rng)
    return Market(cfg, list(strategies), customers, p, pctr, hour, rng,
                  multipliers=np.array([s.multiplier for s in strategies]), affinity=assortments(cfg.seed, strategies),
                  totals={m: np.zeros(len(strategies)) for m in METRICS})


def assortments(seed: int, strategies: list[Strategy]) -> np.ndarray:
    """(advertisers, categories) affinities: advertisers sell different assortments, a seeded log-normal value
    per category. Drawn from a stream keyed by the advertiser's name, not its position in the list: a learner
    trained second in its family and judged first, or a script listed in another order, keeps its assortment."""
    return np.stack([stream(seed, "market.affinity", zlib.crc32(s.name.encode())).lognormal(0.0, 0.5, len(CATEGORIES))
                     for s in strategies])


@dataclass
class Bids:
    """One step's bids: (opportunities, advertisers) in integer cents (0: no bid; else clipped to the rules'
    [min, max]), bids placed per advertiser, the mean bid per opportunity (over advertisers, in currency) by
    the customer's stage, and each opportunity's customer stage and preferred category as the bids read them."""

    cents: np.ndarray
    placed: np.ndarray
    by_stage: np.ndarray
    stage: np.ndarray
    category: np.ndarray


def bids_for(m: Market, cust: np.ndarray, pctr: np.ndarray,
             bid_scale: dict[int, float | np.ndarray] | None = None) -> Bids:
    """The step's bids: pCTR (stage-adjusted) x value x multiplier x ``bid_scale``, 0 off-target, in cents.

    ``pctr``: (opportunities,) when every bidder uses the same estimate, or (opportunities, advertisers).
    ``bid_scale``: see :func:`step`. One compiled pass: bids, their scaling, the cents and the counts."""
    k = m.k
    if m._bid_terms is None:  # the strategies and rules are frozen: their masks and constants are read once
        m._bid_terms = (np.stack([s.stage_mask() for s in m.strategies]),
                        np.array([s.value_per_click for s in m.strategies]),
                        np.array([s.retarget_bonus for s in m.strategies]), np.ones((k, len(STAGES))),
                        *m.cfg.rules.cents()[:2])
    on_stage, value, bonus, scale, lo, hi = m._bid_terms
    if bid_scale:
        scale = scale.copy()
        for i, factor in bid_scale.items():
            scale[i] = np.asarray(factor, dtype=np.float64)  # one factor, or one per lifecycle stage
    est = np.broadcast_to(pctr[:, None], (len(cust), k)) if pctr.ndim == 1 else pctr
    c, n = m.customers, len(cust)
    out = Bids(np.empty((n, k), dtype=np.int64), np.zeros(k), np.zeros(len(STAGES)), np.empty(n, dtype=c.stage.dtype),
               np.empty(n, dtype=c.category.dtype))
    _bid_kernel(c.stage, c.category, c.clicked, np.ascontiguousarray(cust, dtype=np.int64), est, on_stage, value,
                m.affinity, m.multipliers, bonus, STAGE_CTR_LIFT, scale, lo, hi, out.cents, out.placed, out.by_stage,
                out.stage, out.category)
    return out


@njit(cache=True, nogil=True)
def _bid_kernel(stage: np.ndarray, category: np.ndarray, clicked: np.ndarray, cust: np.ndarray, pctr: np.ndarray,
                on_stage: np.ndarray, value: np.ndarray, affinity: np.ndarray, multipliers: np.ndarray,
                bonus: np.ndarray, lift: np.ndarray, scale: np.ndarray, lo: int, hi: int, out: np.ndarray,
                placed: np.ndarray, by_stage: np.ndarray, stages: np.ndarray,
                categories: np.ndarray) -> None:  # pragma: no cover - compiled
    """One bid per opportunity and advertiser, multiplied in the order the array expressions used (same floats),
    rounded half to even to cents and clipped as ``to_cents``; with the bids placed and the mean bid by stage.
    ``stage``, ``category``, ``clicked``: per customer (``clicked`` a bit per advertiser it clicked); the
    opportunities' stages and categories are written to ``stages`` and ``categories``."""
    n, k = out.shape
    seen_by = np.empty(n, dtype=clicked.dtype)
    # The random reads into the population first, in a loop short enough for the CPU to overlap their cache
    # misses: read inside the bid loop below, at a million customers they stalled it to twice its time.
    for i in range(n):
        c = cust[i]
        stages[i] = stage[c]
        categories[i] = category[c]
        seen_by[i] = clicked[c]
    count = np.zeros(len(by_stage))
    for i in range(n):
        s = stages[i]
        warm = s == CONSIDERATION or s == CHURN_RISK  # retargeting stages: every bidder applies its bonus
        seen = seen_by[i]
        row = 0
        for a in range(k):
            bid = 0
            if on_stage[a, s]:
                factor = bonus[a] if (warm or (seen >> a) & 1) else 1.0
                v = pctr[i, a] * lift[s] * (value[a] * affinity[a, categories[i]]) * multipliers[a] * factor
                v = v * scale[a, s]
                if v > 0:
                    bid = min(max(np.int64(np.rint(v * CENT)), lo), hi)
                    placed[a] += 1
            out[i, a] = bid
            row += bid
        by_stage[s] += row / max(k, 1) / CENT
        count[s] += 1
    for s in range(len(by_stage)):
        by_stage[s] = by_stage[s] / count[s] if count[s] > 0 else 0.0


def step(m: Market, steps_total: int, bid_scale: dict[int, float | np.ndarray] | None = None) -> dict[str, Any]:
    """One timestep; returns its per-advertiser counters and market figures (also appended to ``history``).

    ``bid_scale``: advertiser index -> a factor on that advertiser's strategy's bids this step, or one factor per
    lifecycle stage (``len(STAGES)``) applied by each opportunity's customer stage (learning agents bid through
    their script, models.market.envs); 1.0 leaves the step exactly as without it.
    """
    cfg, c, rng, k = m.cfg, m.customers, m.rng, m.k
    n = rng.poisson(cfg.arrival_rate * c.n)
    cust = rng.integers(0, c.n, n)
    imp = rng.integers(0, len(m.pool_p), n)
    pctr = m.pool_pctr[imp] if m.pool_pctr.ndim == 1 else m.pool_pctr[:, imp].T  # one estimate, or one per advertiser
    offered = bids_for(m, cust, pctr, bid_scale)
    cs = offered.stage  # each opportunity's stage and category, read once: random reads into the population
    bids = offered.cents  # no bid stays 0; a bid is clipped to [min, max]
    m.last_opportunities = cust
    budget = np.array([s.daily_budget * CENT for s in m.strategies], dtype=np.int64)
    hour = m.t % 24
    if hour == 0:
        m.totals["_day_spend"] = np.zeros(k)
    day_left = budget - m.totals.get("_day_spend", np.zeros(k)).astype(np.int64)
    allowed = even_pacing(np.maximum(day_left, 0), 24 - hour)
    prio = priorities(n, k, cfg.rules, rng)
    # Every opportunity's dice (click, cart, purchase, basket price) are drawn before the auction, whoever wins
    # it: common random numbers. Two policies compared on one seed then see the same outcome for the same
    # opportunity, and every later draw stays aligned; drawn for the winners only, one extra win shifted all
    # later draws and a paired learned-vs-scripted comparison measured mostly that noise.
    dice = rng.random((3, n))
    ratios = rng.uniform(0.6, 1.4, n)
    res = run_auctions(bids, allowed, cfg.rules, prio)  # bids under the reserve sit out
    m.last_auctions = {"bids": bids, "allowed": allowed, "prio": prio, "winner": res.winner, "price": res.price}
    # The purchase odds fall with the basket's price relative to the category's usual order: exp in numpy, as
    # before the outcomes moved into the kernel, so every draw's threshold is the same float.
    price_factor = np.exp(-cfg.price_sensitivity * (ratios - 1.0))
    o = _Outcomes(n, k)
    _outcomes_kernel(res.winner, res.price, cust, imp, cs, offered.category, dice, ratios, price_factor, m.pool_p,
                     STAGE_CTR_LIFT, CART_RATE, BUY_RATE, ORDER_VALUE, _mean_price_factor(cfg.price_sensitivity),
                     o.per_advertiser, o.customers, o.advertiser, o.bought_revenue, o.counts)
    n_clicked, n_carted, n_bought, n_won, price_sum = o.counts
    clicked_cust, carted_cust, bought_cust = (o.customers[0, :n_clicked], o.customers[1, :n_carted],
                                              o.customers[2, :n_bought])
    # Customer-level behaviour as indices: ad clicks plus organic visits (a binomial count of random customers).
    organic = rng.integers(0, c.n, rng.binomial(c.n, cfg.lifecycle.organic_visit_rate))
    mark_clicks(c, clicked_cust, o.advertiser[:n_clicked])
    advance(c, m.t, np.concatenate([clicked_cust, organic]), carted_cust, bought_cust, o.bought_revenue[:n_bought],
            cfg.lifecycle)
    wins, clicks, carts, conversions, revenue, expected = o.per_advertiser
    row = {"auctions": np.full(k, float(n)), "bids": offered.placed, "wins": wins, "clicks": clicks, "carts": carts,
           "conversions": conversions, "spend": res.spend / CENT, "revenue": revenue, "expected_revenue": expected}
    for key in METRICS:
        m.totals[key] += row[key]
    m.totals["_day_spend"] = m.totals.get("_day_spend", np.zeros(k)) + res.spend
    _adapt(m, row)
    out = {"t": m.t, "hour": hour, "stage_mix": c.stage_counts / c.n,
           "mean_price": (price_sum / n_won if n_won else 0.0) / CENT,
           "bid_by_stage": offered.by_stage, **row, "multipliers": m.multipliers.copy()}
    m.history.append(out)
    m.t += 1
    return out


class _Outcomes:
    """Buffers of one step's outcomes, filled by :func:`_outcomes_kernel`: per advertiser (wins, clicks, carts,
    conversions, revenue, expected revenue); the customers who clicked / put in a cart / bought (rows 0-2, in
    auction order) with the advertiser of each click and the revenue of each purchase; and the counts."""

    def __init__(self, n: int, k: int) -> None:
        self.per_advertiser = np.zeros((6, k))
        self.customers = np.empty((3, n), dtype=np.int64)
        self.advertiser = np.empty(n, dtype=np.int64)
        self.bought_revenue = np.empty(n)
        self.counts = np.zeros(5, dtype=np.int64)  # clicked, carted, bought, won, the winners' prices (cents) summed


@njit(cache=True, nogil=True)
def _outcomes_kernel(winner: np.ndarray, price: np.ndarray, cust: np.ndarray, imp: np.ndarray, stage: np.ndarray,
                     category: np.ndarray, dice: np.ndarray, ratios: np.ndarray, price_factor: np.ndarray,
                     pool_p: np.ndarray, lift: np.ndarray, cart_rate: np.ndarray, buy_rate: np.ndarray,
                     order_value: np.ndarray, mean_price_factor: float, per_advertiser: np.ndarray,
                     customers: np.ndarray, advertiser: np.ndarray, bought_revenue: np.ndarray,
                     counts: np.ndarray) -> None:  # pragma: no cover - compiled
    """What each won auction leads to, in auction order: a click (the impression's true CTR lifted by the
    customer's stage), a cart, a purchase at the basket's price; the expected revenue of the win before the dice
    (P(click) x P(cart) x P(buy) x order value, averaged over the price ratio). The products in the order the
    array expressions used, the sums in auction order as np.bincount adds them: the same floats."""
    nc = nt = nb = nw = price_sum = 0
    for i in range(len(winner)):
        w = winner[i]
        if w < 0:
            continue
        nw += 1
        price_sum += price[i]
        s = stage[i]
        p_true = min(max(pool_p[imp[i]] * lift[s], 0.0), 1.0)
        usual = order_value[category[i]]
        per_advertiser[0, w] += 1.0
        per_advertiser[5, w] += p_true * cart_rate[s] * (buy_rate[s] * mean_price_factor) * usual
        if not dice[0, i] < p_true:
            continue
        per_advertiser[1, w] += 1.0
        customers[0, nc] = cust[i]
        advertiser[nc] = w
        nc += 1
        if not dice[1, i] < cart_rate[s]:
            continue
        per_advertiser[2, w] += 1.0
        customers[1, nt] = cust[i]
        nt += 1
        if not dice[2, i] < buy_rate[s] * price_factor[i]:
            continue
        order = usual * ratios[i]
        per_advertiser[3, w] += 1.0
        per_advertiser[4, w] += order
        customers[2, nb] = cust[i]
        bought_revenue[nb] = order
        nb += 1
    counts[0], counts[1], counts[2], counts[3], counts[4] = nc, nt, nb, nw, price_sum


@functools.lru_cache(maxsize=8)
def _mean_price_factor(sensitivity: float) -> float:
    """E[ratio x exp(-s (ratio - 1))] over the basket's price ratio, uniform on [0.6, 1.4] (an 81-point grid)."""
    grid = np.linspace(0.6, 1.4, 81)
    return float(np.mean(grid * np.exp(-sensitivity * (grid - 1.0))))


def _adapt(m: Market, row: dict[str, np.ndarray]) -> None:
    """Adaptive advertisers move their multiplier toward their target ROAS once a day."""
    if m.t % 24 != 23:
        return
    for i, s in enumerate(m.strategies):
        if s.adapt_rate <= 0:
            continue
        if m.totals["spend"][i] > 0:
            roas = m.totals["revenue"][i] / m.totals["spend"][i]
            change = s.adapt_rate * np.tanh(roas / s.target_roas - 1)
        else:
            change = s.adapt_rate  # winning nothing: bid up until it learns its ROAS
        m.multipliers[i] = float(np.clip(m.multipliers[i] * (1 + change), 0.2, 5.0))


def summary(m: Market) -> pd.DataFrame:
    """Per-advertiser metrics so far: impressions, clicks, conversions, spend, revenue, CLV, ROAS, CTR, CVR, CPC,
    CAC, win rate, market share."""
    t = m.totals
    df = pd.DataFrame({"advertiser": [s.name for s in m.strategies], "bids": t["bids"], "wins": t["wins"],
                       "impressions": t["wins"], "clicks": t["clicks"], "conversions": t["conversions"],
                       "spend": t["spend"], "revenue": t["revenue"]})
    # CLV: mean lifetime value of the customers who clicked the advertiser's ads (its reached customers).
    reached = m.customers.clicked_advertisers(m.k)
    ltv = m.customers.lifetime_value(m.t, m.cfg.lifecycle)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["clv"] = (reached * ltv[:, None]).sum(axis=0) / reached.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["roas"] = df["revenue"] / df["spend"]
        df["ctr"] = df["clicks"] / df["impressions"]
        df["cvr"] = df["conversions"] / df["clicks"]
        df["cpc"] = df["spend"] / df["clicks"]
        df["cac"] = df["spend"] / df["conversions"]
        df["win_rate"] = t["wins"] / t["bids"]
        df["market_share"] = t["wins"] / max(t["wins"].sum(), 1.0)
    return df


def strategies_from_config(doc: dict[str, dict[str, Any]], names: list[str] | None = None) -> list[Strategy]:
    """Strategies from the YAML mapping name -> settings, optionally only ``names`` (in that order)."""
    chosen = list(doc) if not names else names
    unknown = [n for n in chosen if n not in doc]
    if unknown:
        raise ValueError(f"unknown advertiser(s) {unknown}; configured: {list(doc)}")
    return [Strategy(name=n, **{**doc[n], "stages": tuple(doc[n]["stages"])}) for n in chosen]


def simulate(cfg: MarketConfig, strategies: list[Strategy], steps: int, ctr_model: Any = None,
             on_step: Any = None, pool: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Market:
    """Run ``steps`` timesteps; ``on_step(market, row)`` after each (progress, live tables)."""
    m = make_market(cfg, strategies, ctr_model, pool)
    for _ in range(steps):  # a loop over timesteps; each step is vectorised over its auctions and customers
        row = step(m, steps)
        if on_step is not None:
            on_step(m, row)
    return m
