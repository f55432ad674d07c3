"""Customers of the retargeting market: features and lifecycle stages, updated as arrays.

Stages: AWARENESS -> INTEREST -> CONSIDERATION -> PURCHASE -> RETENTION -> CHURN_RISK.
One timestep is one hour. Transitions follow behaviour and recency:

- a visit moves AWARENESS to INTEREST; a cart action moves INTEREST (or AWARENESS) to
  CONSIDERATION; a purchase moves anyone to PURCHASE, and PURCHASE becomes RETENTION at the
  next step;
- without activity for ``cool_after`` steps, INTEREST and CONSIDERATION fall back one stage
  (and again after each further ``cool_after`` idle steps);
  RETENTION becomes CHURN_RISK after ``churn_after`` steps; a visit brings CHURN_RISK back to
  RETENTION (win-back); a churn-risk customer idle for ``lost_after`` steps starts over at
  AWARENESS.

No Python loop touches a customer: every update is a masked array assignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

STAGES = ("AWARENESS", "INTEREST", "CONSIDERATION", "PURCHASE", "RETENTION", "CHURN_RISK")
AWARENESS, INTEREST, CONSIDERATION, PURCHASE, RETENTION, CHURN_RISK = range(6)
CATEGORIES = ("electronics", "fashion", "home", "beauty", "sports")
ORDER_VALUE = np.array([180.0, 60.0, 90.0, 35.0, 70.0])  # mean order value per preferred category
# Per stage: chance a click turns into a cart action, and a cart into a purchase.
CART_RATE = np.array([0.05, 0.15, 0.30, 0.10, 0.20, 0.12])
BUY_RATE = np.array([0.05, 0.10, 0.25, 0.15, 0.30, 0.15])
NEVER = -(2**30)  # last_cooled of a customer never cooled: further back than any idle threshold


@dataclass(frozen=True)
class LifecycleRules:
    """Recency thresholds in timesteps (hours) and the organic (non-ad) activity rate."""

    cool_after: int = 24 * 7
    churn_after: int = 24 * 30
    lost_after: int = 24 * 60
    organic_visit_rate: float = 0.002  # per customer per step
    check_every: int = 24              # recency transitions are checked once a day (the thresholds are days)


@dataclass
class Customers:
    """One array per feature, one element per customer. In a fresh population (make_customers) ``stage``,
    ``category`` and ``clicked`` are fields of one record array, so that the bids' read of an opportunity's
    customer is one cache miss, not three (at a million customers those misses are most of a market step)."""

    stage: np.ndarray         # int8
    visits: np.ndarray        # int32
    purchases: np.ndarray     # int32
    spent: np.ndarray         # float64, total revenue from the customer
    cart_value: np.ndarray    # float64, value in the cart now
    last_active: np.ndarray   # int32, timestep of the last visit or purchase (int32: the daily sweep reads half)
    category: np.ndarray      # int8, preferred category
    clicked: np.ndarray       # (n,) unsigned bit set: bit a once the customer clicked advertiser a (see mark_clicks)
    last_cooled: np.ndarray   # int32, when idleness last moved the customer back a stage
    pending_retention: np.ndarray  # indices that bought in the previous step (PURCHASE -> RETENTION next)
    stage_counts: np.ndarray  # (stages,) customers per stage, kept up to date by advance() without a full sweep

    @property
    def n(self) -> int:
        return len(self.stage)

    def clicked_advertisers(self, k: int) -> np.ndarray:
        """(n, k) bool: whether each customer ever clicked each of the market's ``k`` advertisers."""
        return (self.clicked[:, None] >> np.arange(k, dtype=self.clicked.dtype)) & 1 == 1

    def conversion_probability(self) -> np.ndarray:
        """P(a click ends in a purchase) at the current stage."""
        return CART_RATE[self.stage] * BUY_RATE[self.stage]

    def churn_probability(self, t: int, rules: LifecycleRules) -> np.ndarray:
        """A logistic score of recency against the churn threshold (0.5 at ``churn_after``)."""
        idle = t - self.last_active
        return 1.0 / (1.0 + np.exp(-(idle - rules.churn_after) / (rules.churn_after / 6)))

    def lifetime_value(self, t: int, rules: LifecycleRules) -> np.ndarray:
        """Revenue so far plus the expected next order while the customer is not lost."""
        return self.spent + ORDER_VALUE[self.category] * (1 - self.churn_probability(t, rules)) * np.minimum(
            self.purchases + 1, 5) * 0.2

    def subset(self, idx: np.ndarray) -> Customers:
        """The customers at ``idx`` (copies), e.g. the hour's opportunities."""
        picked = {k: v[idx] for k, v in vars(self).items() if k not in ("pending_retention", "stage_counts")}
        return Customers(**picked, pending_retention=np.zeros(0, dtype=np.int64),
                         stage_counts=np.bincount(picked["stage"], minlength=len(STAGES)))

    def mean_features(self, idx: np.ndarray, t: int, rules: LifecycleRules) -> np.ndarray:
        """The mean of :meth:`features` over the customers at ``idx`` (repeats count; zeros when empty), shape
        (10,), in one compiled pass: the RL observation's summary of an hour's opportunities, which as a copy of
        the customers and ten array columns cost a sixth of an env step."""
        return _mean_features(self.visits, self.purchases, self.spent, self.last_active, self.cart_value, self.stage,
                              self.category, np.ascontiguousarray(idx, dtype=np.int64), t, rules.lost_after,
                              rules.churn_after)

    def features(self, t: int, rules: LifecycleRules) -> np.ndarray:
        """The 10 normalised customer features of the RL observation, shape (n, 10): the array reference that
        :meth:`mean_features` (the env's compiled path) is tested against."""
        recency = np.minimum((t - self.last_active) / rules.lost_after, 1.0)
        return np.column_stack([
            np.tanh(self.visits / 20), np.tanh(self.purchases / 5), np.tanh(self.spent / 1000), recency,
            np.tanh(self.cart_value / 200), np.tanh(self.lifetime_value(t, rules) / 1000),
            self.churn_probability(t, rules), self.conversion_probability() / 0.1,
            self.stage / (len(STAGES) - 1), self.category / (len(CATEGORIES) - 1)]).astype(np.float32)


@njit(cache=True, nogil=True)
def _mean_features(visits: np.ndarray, purchases: np.ndarray, spent: np.ndarray, last_active: np.ndarray,
                   cart_value: np.ndarray, stage: np.ndarray, category: np.ndarray, idx: np.ndarray, t: int,
                   lost_after: int, churn_after: int) -> np.ndarray:  # pragma: no cover - compiled
    """Customers.features' ten columns (its formulas, and those of churn_probability and lifetime_value, scalar),
    summed over ``idx`` in float64 and divided by its length."""
    out = np.zeros(10)
    for j in range(len(idx)):
        i = idx[j]
        idle = t - last_active[i]
        churn = 1.0 / (1.0 + np.exp(-(idle - churn_after) / (churn_after / 6)))
        ltv = spent[i] + ORDER_VALUE[category[i]] * (1 - churn) * min(purchases[i] + 1, 5) * 0.2
        out[0] += np.tanh(visits[i] / 20)
        out[1] += np.tanh(purchases[i] / 5)
        out[2] += np.tanh(spent[i] / 1000)
        out[3] += min(idle / lost_after, 1.0)
        out[4] += np.tanh(cart_value[i] / 200)
        out[5] += np.tanh(ltv / 1000)
        out[6] += churn
        out[7] += CART_RATE[stage[i]] * BUY_RATE[stage[i]] / 0.1
        out[8] += stage[i] / (len(STAGES) - 1)
        out[9] += category[i] / (len(CATEGORIES) - 1)
    return (out / max(len(idx), 1)).astype(np.float32)


def make_customers(n: int, n_advertisers: int, rng: np.random.Generator) -> Customers:
    """A fresh population: most at AWARENESS, some further along, with a spread of past activity."""
    stage = rng.choice(len(STAGES), size=n, p=[0.55, 0.2, 0.1, 0.0, 0.1, 0.05]).astype(np.int8)
    purchases = np.where(stage >= RETENTION, rng.integers(1, 6, n), 0).astype(np.int32)
    category = rng.integers(0, len(CATEGORIES), n).astype(np.int8)
    hot = np.zeros(n, dtype=np.dtype([("stage", np.int8), ("category", np.int8), ("clicked", _bit_set(n_advertisers))],
                                     align=True))
    hot["stage"], hot["category"] = stage, category
    return Customers(
        stage=hot["stage"], visits=(purchases * 3 + rng.integers(0, 4, n)).astype(np.int32), purchases=purchases,
        spent=purchases * ORDER_VALUE[category] * rng.uniform(0.7, 1.3, n), cart_value=np.zeros(n),
        last_active=-rng.integers(0, 24 * 20, n).astype(np.int32), category=hot["category"],
        clicked=hot["clicked"],
        last_cooled=np.full(n, NEVER, dtype=np.int32),
        pending_retention=np.zeros(0, dtype=np.int64), stage_counts=np.bincount(stage, minlength=len(STAGES)))


def _bit_set(n_advertisers: int) -> type:
    """The narrowest unsigned integer with a bit per advertiser."""
    for dtype in (np.uint8, np.uint16, np.uint32):  # not uint64: uint64 | int64 is a float in numba
        if n_advertisers <= np.iinfo(dtype).bits:
            return dtype
    raise ValueError(f"a market holds at most 32 advertisers (a customer's clicked-advertiser bit set), "
                     f"got {n_advertisers}")


def mark_clicks(c: Customers, cust: np.ndarray, advertiser: np.ndarray) -> None:
    """Customers ``cust`` clicked the ads of ``advertiser`` (aligned; repeats allowed): set their bits. A bit set,
    not a count per customer and advertiser: the bid kernel reads one byte per opportunity (rows of counts at a
    million customers were 20 MB, and reading them at random was half of a market step), and nothing needs how
    often a customer clicked, only whether."""
    _mark_clicks(c.clicked, np.ascontiguousarray(cust, dtype=np.int64),
                 np.ascontiguousarray(advertiser, dtype=np.int64))


@njit(cache=True, nogil=True)
def _mark_clicks(clicked: np.ndarray, cust: np.ndarray, advertiser: np.ndarray) -> None:  # pragma: no cover - compiled
    for j in range(len(cust)):
        clicked[cust[j]] = clicked[cust[j]] | (1 << advertiser[j])


def advance(c: Customers, t: int, visited: np.ndarray, carted: np.ndarray, bought: np.ndarray,
            revenue: np.ndarray, rules: LifecycleRules) -> None:
    """Apply one timestep's behaviour, given as customer indices (``revenue`` aligned with ``bought``;
    repeats allowed), then, every ``rules.check_every`` steps, recency over the whole population.

    Only the touched customers are written each step, so a step costs what happened in it,
    not the population's size; the recency pass is the one full-array sweep. ``stage_counts``
    follows the touched customers' moves, and is recounted by the sweep.
    """
    s = c.stage
    moved = [np.ascontiguousarray(x, dtype=np.int64) for x in (c.pending_retention, visited, carted, bought)]
    _behaviour(c.visits, c.last_active, c.cart_value, c.purchases, c.spent, c.category, ORDER_VALUE, s,
               c.stage_counts, *moved, np.ascontiguousarray(revenue, dtype=np.float64), t)
    c.pending_retention = np.unique(bought) if len(bought) > 1 else bought.copy()  # most hours: no purchase
    if t % rules.check_every:
        return
    c.stage_counts = _recency(s, c.last_active, c.last_cooled, t, rules.cool_after, rules.churn_after,
                              rules.lost_after)


@njit(cache=True, nogil=True)
def _behaviour(visits: np.ndarray, last_active: np.ndarray, cart_value: np.ndarray, purchases: np.ndarray,
               spent: np.ndarray, category: np.ndarray, order_value: np.ndarray, s: np.ndarray, counts: np.ndarray,
               pending: np.ndarray, visited: np.ndarray, carted: np.ndarray, bought: np.ndarray, revenue: np.ndarray,
               t: int) -> None:  # pragma: no cover - compiled
    """One step's behaviour on the customers it touched, in one call (as separate array operations their
    dispatch cost more than the work): visits counted, activity stamped, carts valued (then emptied by a
    purchase), purchases and their revenue added in order, then the stage moves (:func:`_transitions`)."""
    for j in range(len(visited)):
        visits[visited[j]] += 1
        last_active[visited[j]] = t
    for j in range(len(carted)):
        i = carted[j]
        last_active[i] = t
        cart_value[i] += order_value[category[i]]
    for j in range(len(bought)):
        last_active[bought[j]] = t
        cart_value[bought[j]] = 0.0
    for j in range(len(bought)):
        purchases[bought[j]] += 1
        spent[bought[j]] += revenue[j]
    _transitions(s, counts, pending, visited, carted, bought)


@njit(cache=True, nogil=True)
def _transitions(s: np.ndarray, counts: np.ndarray, pending: np.ndarray, visited: np.ndarray, carted: np.ndarray,
                 bought: np.ndarray) -> None:  # pragma: no cover - compiled
    """The step's behaviour-driven stage moves, in this order: last step's buyers to RETENTION, visits (AWARENESS
    to INTEREST, CHURN_RISK back to RETENTION), cart actions (AWARENESS / INTEREST to CONSIDERATION), purchases.
    Each move is idempotent, so a repeated index moves once, as with array assignment; ``counts`` follow."""
    for phase in range(4):
        idx = (pending, visited, carted, bought)[phase]
        for j in range(len(idx)):
            i = idx[j]
            old = s[i]
            new = old
            if phase == 0:
                new = RETENTION if old == PURCHASE else old
            elif phase == 1:
                new = INTEREST if old == AWARENESS else (RETENTION if old == CHURN_RISK else old)
            elif phase == 2:
                new = CONSIDERATION if (old == AWARENESS or old == INTEREST) else old
            else:
                new = PURCHASE
            if new != old:
                counts[old] -= 1
                counts[new] += 1
                s[i] = new


@njit(cache=True, nogil=True)
def _recency(s: np.ndarray, last_active: np.ndarray, last_cooled: np.ndarray, t: int, cool_after: int,
             churn_after: int, lost_after: int) -> np.ndarray:  # pragma: no cover - compiled
    """The daily recency rules over the whole population in one pass (stages in place); returns the stage counts.

    Idle INTEREST / CONSIDERATION customers cool one stage (then wait ``cool_after`` again); idle RETENTION
    becomes CHURN_RISK; CHURN_RISK idle past ``lost_after`` starts over at AWARENESS (in the same pass).
    """
    counts = np.zeros(len(STAGES), dtype=np.int64)
    for i in range(len(s)):
        st = s[i]
        if (st == INTEREST or st == CONSIDERATION) and t - max(last_active[i], last_cooled[i]) > cool_after:
            st -= 1
            last_cooled[i] = t
        idle = t - last_active[i]
        if st == RETENTION and idle > churn_after:
            st = CHURN_RISK
        if st == CHURN_RISK and idle > lost_after:
            st = AWARENESS
        s[i] = st
        counts[st] += 1
    return counts
