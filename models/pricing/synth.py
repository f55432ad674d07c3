"""Synthetic shop clickstream: humans and three kinds of automated agents, with ground truth.

A session first gets a behaviour profile and a latent automation level ``a``:
human-like (``a ~ N(0, 1.3)``), scraper (``N(3, 1)``) or price monitor (``N(2.2, 1)``).
Everything observable is generated from (profile, ``a``): gaps shrink and become regular
as ``a`` grows, the event mix moves from the human table towards the agent's own,
scrapers sweep the catalogue and often run headless, monitors revisit a watchlist.
Only then is the session's class drawn, with the true P(agent) = f(profile, a):
human-like sessions are LLM shopping agents with probability ``sigmoid(2 (a - 1.8))``
(human pacing and user agents: genuinely hard), scrapers and monitors are agents with
probability 0.995 and 0.98. Since the class is drawn from it, the true P(agent) is the
Bayes-optimal score given everything the generator knows; its oracle AUC is about 0.97
(about 0.92 among human-like sessions), and no model of the observables can beat it
other than by chance.

At the end of each session one product is offered at a randomised price (a price
experiment). The true purchase probability is ``sigmoid(alpha + beta * log(price /
list_price))``: ``alpha`` carries the session's purchase intent (which also raises its
cart activity and length, so it is partly observable) and ``beta`` the kind's price
sensitivity (humans elastic, agents much less). Generation runs in chunks of sessions,
each from its own seeded stream, so memory stays flat and any chunk can be regenerated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.common.streams import stream

KINDS = ("human", "scraper", "price_monitor", "llm_agent")
EVENT_TYPES = (
    "page_view",
    "product_view",
    "hover",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
)
CATEGORIES = ("apparel", "electronics", "home", "beauty", "sports", "toys")
COHORT_HUMAN, COHORT_AGENT = "xp_human_only", "xp_agent_sandbox"

PROFILES = ("human_like", "scraper", "price_monitor")
PROFILE_KIND = np.array([3, 1, 2])                # the agent kind of each profile (human-like agents are LLMs)
MU = np.array([0.0, 3.0, 2.2])                    # automation level by profile
SD = np.array([1.3, 1.0, 1.0])
EVENTS_LOG_MEAN = np.array([3.0, 3.9, 3.3])       # log of the mean number of events by profile
# Event mix by kind (rows) over EVENT_TYPES (columns).
MIX = np.array([
    [0.20, 0.35, 0.15, 0.10, 0.08, 0.04, 0.04, 0.04],
    [0.35, 0.61, 0.00, 0.03, 0.01, 0.00, 0.00, 0.00],
    [0.15, 0.75, 0.02, 0.05, 0.02, 0.01, 0.00, 0.00],
    [0.20, 0.40, 0.05, 0.15, 0.10, 0.02, 0.04, 0.04],
])
ALPHA0 = np.array([-1.0, -4.0, -3.0, -0.5])  # purchase intercept by kind
BETA = np.array([-4.0, -1.0, -1.5, -1.0])    # price sensitivity by kind
REVISIT = np.array([0.15, 0.02, 0.85])  # share of product views on the session's watchlist, by profile
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 19_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/19.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 16; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:144.0) Gecko/20100101 Firefox/144.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 15_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 "
    "Safari/537.36 Edg/141.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/141.0 Safari/537.36",
    "python-requests/2.33.0",
    "curl/8.15.0",
)
# User-agent mix by kind (rows) over USER_AGENTS (columns).
UA_MIX = np.array([
    [0.45, 0.25, 0.15, 0.10, 0.05, 0.00, 0.00, 0.00],
    [0.30, 0.00, 0.00, 0.00, 0.00, 0.50, 0.20, 0.00],
    [0.50, 0.00, 0.00, 0.00, 0.00, 0.30, 0.00, 0.20],
    [0.60, 0.20, 0.05, 0.05, 0.05, 0.05, 0.00, 0.00],
])


@dataclass(frozen=True)
class ClickstreamSpec:
    """Size and randomness of a synthetic clickstream."""

    n_sessions: int = 50_000
    seed: int = 42
    profile_shares: tuple[float, float, float] = (0.82, 0.10, 0.08)
    n_products: int = 2_000
    label_noise: float = 0.02
    start: str = "2026-03-01"
    chunk_sessions: int = 20_000


def products(spec: ClickstreamSpec) -> pd.DataFrame:
    """The catalogue: productId, category, list price (log-normal by category), rating."""
    rng = stream(spec.seed, "clickstream.world")
    cat = rng.integers(0, len(CATEGORIES), spec.n_products)
    base = np.array([3.5, 5.5, 4.2, 3.0, 4.0, 3.3])[cat]
    return pd.DataFrame({"productId": np.arange(spec.n_products), "category": np.array(CATEGORIES)[cat],
                         "list_price": np.round(np.exp(base + 0.5 * rng.standard_normal(spec.n_products)), 2),
                         "rating": np.round(np.clip(rng.normal(4.0, 0.6, spec.n_products), 1, 5), 1)})


def true_p_agent(profile: np.ndarray, a: np.ndarray) -> np.ndarray:
    """True P(agent | profile, automation level)."""
    return np.where(profile == 0, 1 / (1 + np.exp(-2.0 * (a - 1.8))), np.where(profile == 1, 0.995, 0.98))


def purchase_probability(alpha: np.ndarray, beta: np.ndarray, price: np.ndarray, list_price: np.ndarray) -> np.ndarray:
    """True P(purchase | offered price)."""
    return 1 / (1 + np.exp(-(alpha + beta * np.log(price / list_price))))


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1), vectorised."""
    return (rng.random(probs.shape[0])[:, None] > np.cumsum(probs, axis=1)).sum(axis=1).clip(max=probs.shape[1] - 1)


def generate_chunk(
    spec: ClickstreamSpec, chunk: int, catalogue: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Events, offers (the price experiment's observable log) and hidden truth for chunk ``chunk``."""
    first = chunk * spec.chunk_sessions
    n = min(spec.chunk_sessions, spec.n_sessions - first)
    rng = stream(spec.seed, "clickstream.chunk", chunk)
    profile = _pick(rng, np.tile(np.asarray(spec.profile_shares), (n, 1)))
    a = MU[profile] + SD[profile] * rng.standard_normal(n)
    p_agent = true_p_agent(profile, a)
    agent = rng.random(n) < p_agent
    kind = np.where(agent, PROFILE_KIND[profile], 0)
    intent = rng.standard_normal(n)
    n_ev = 2 + rng.poisson(np.exp(EVENTS_LOG_MEAN[profile] + 0.1 * a + 0.3 * intent))
    w_human = 1 / (1 + np.exp(a - 1.8))  # how human the session's event mix looks
    mix = w_human[:, None] * MIX[0] + (1 - w_human[:, None]) * MIX[PROFILE_KIND[profile]]
    mix[:, 4] *= np.exp(0.8 * intent)  # intent shows up as carts
    mix /= mix.sum(axis=1, keepdims=True)
    sid = np.repeat(np.arange(n), n_ev)
    m = sid.size
    etype = _pick(rng, mix[sid])
    gap_mu = 2.0 - 0.5 * a
    gap_sigma = np.clip(1.0 - 0.12 * a, 0.15, 1.2)
    gaps = np.exp(gap_mu[sid] + gap_sigma[sid] * rng.standard_normal(m))
    first_event = np.r_[0, np.cumsum(n_ev)[:-1]]
    gaps[first_event] = 0.0
    day = rng.integers(0, 7, n)
    hour = np.where(profile > 0, rng.uniform(0, 24, n), np.clip(rng.normal(15, 4, n), 0, 23.99))
    start_ms = (pd.Timestamp(spec.start).value // 10**6) + ((day * 24 + hour) * 3600 * 1000).astype(np.int64)
    offset = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first_event], n_ev)
    ts = start_ms[sid] + np.round(offset * 1000).astype(np.int64)
    # Products: a per-session watchlist (revisits) or a fresh product from a preferred category.
    cats = catalogue["category"].map({c: i for i, c in enumerate(CATEGORIES)}).to_numpy()
    by_cat = [np.flatnonzero(cats == c) for c in range(len(CATEGORIES))]
    pref = rng.integers(0, len(CATEGORIES), n)
    watch0 = rng.integers(0, spec.n_products, n)
    revisit = rng.random(m) < (REVISIT[profile] + 0.2 * (profile == 0) * (1 - w_human))[sid]
    fresh_cat = np.where(profile[sid] == 1, rng.integers(0, len(CATEGORIES), m),
                         np.where(rng.random(m) < 0.8, pref[sid], rng.integers(0, len(CATEGORIES), m)))
    sizes = np.array([len(b) for b in by_cat])
    pos = (rng.random(m) * sizes[fresh_cat]).astype(int)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    flat = np.concatenate(by_cat)
    fresh = flat[offsets[fresh_cat] + pos]
    watched = (watch0[sid] + 7919 * rng.integers(0, 5, m)) % spec.n_products
    product = np.where(revisit, watched, fresh)
    has_product = np.isin(etype, [1, 2, 4, 5, 6, 7])
    ua = _pick(rng, UA_MIX[np.where(profile == 0, 0, PROFILE_KIND[profile])])
    ua = np.where((profile == 0) & (rng.random(n) < 0.05 * (1 - w_human)), 5, ua)  # a rare headless LLM agent
    flip = rng.random(n) < spec.label_noise
    label = np.where(flip, ~agent, agent)  # the cohort a session was logged under: its label, with noise
    bot_scroll = np.where(profile > 0, 0.7, 0.3 * (1 - w_human))[sid]
    scroll = np.where(rng.random(m) < bot_scroll, np.where(profile[sid] == 1, 0.0, 1.0), rng.beta(2, 2, m))
    events = pd.DataFrame({
        "sessionId": np.char.add("s", (first + sid).astype(str)),
        "userId": np.char.add("u", ((first + sid) // np.where(profile[sid] > 0, 1, 3)).astype(str)),
        "experimentId": np.where(label[sid], COHORT_AGENT, COHORT_HUMAN),
        "eventType": np.array(EVENT_TYPES)[etype],
        "productId": np.where(has_product, product, -1),
        "category": np.where(has_product, catalogue["category"].to_numpy()[product], None),
        "price": np.where(has_product, catalogue["list_price"].to_numpy()[product], np.nan),
        "timestamp": ts,
        "userAgent": np.array(USER_AGENTS)[ua][sid],
        "referrer": np.where(profile[sid] > 0, "", np.array(["https://www.google.com/", "", "https://instagram.com/"])[
            rng.integers(0, 3, m)]),
        "pageDepth": 1 + np.floor(offset / np.maximum(gap_mu[sid], 0.5) / 3).astype(int) % 12,
        "scrollDepth": np.round(scroll, 3),
    })
    # The offer: the session's last viewed product (or its watchlist head) at a random price multiplier.
    last_prod = pd.Series(product).where(has_product).groupby(sid).last().reindex(range(n))
    offer = last_prod.fillna(pd.Series(watch0)).to_numpy(int)
    list_price = catalogue["list_price"].to_numpy()[offer]
    mult = np.round(rng.uniform(0.8, 1.5, n), 2)
    alpha = ALPHA0[kind] + 1.5 * intent
    beta = BETA[kind]
    p_buy = purchase_probability(alpha, beta, np.round(mult * list_price, 2), list_price)
    sessions = np.char.add("s", (first + np.arange(n)).astype(str))
    offers = pd.DataFrame({
        "sessionId": sessions, "productId": offer, "category": catalogue["category"].to_numpy()[offer],
        "rating": catalogue["rating"].to_numpy()[offer], "list_price": list_price,
        "offer_price": np.round(mult * list_price, 2), "purchased": (rng.random(n) < p_buy).astype(int),
    })
    truth = pd.DataFrame({
        "sessionId": sessions, "kind": np.array(KINDS)[kind], "is_agent": agent.astype(int),
        "profile": np.array(PROFILES)[profile], "automation": a, "p_agent": p_agent, "label": label.astype(int),
        "alpha": alpha, "beta": beta.astype(float), "p_purchase": p_buy,
    })
    return events, offers, truth


def generate(spec: ClickstreamSpec) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """(events, offers, truth) chunk by chunk, in session order."""
    catalogue = products(spec)
    for chunk in range(-(-spec.n_sessions // spec.chunk_sessions)):
        yield generate_chunk(spec, chunk, catalogue)
