"""The RL interface to the retargeting market: a PettingZoo Parallel env (one or several learners
against scripted rivals), and the environment of each curriculum complexity.

One env step is one market timestep (an hour). Each learner bids *through the scripted strategy of its
name* (its stages, value per click, category affinities, retargeting bonus, adaptive multiplier and daily
budget; a neutral strategy bidding on every stage when it has none): its action is one number per lifecycle
stage in ``[-2, 2]``, the log2 of a multiplier on that strategy's bids for the hour on customers in that stage
(x0.25 to x4). ``a = 0`` *is* the script, bit for bit, so learning starts from the script and a learned bidder
is judged by what it adds: a bid adjustment per audience segment (the scripts bid pCTR x value and ignore that
a click from a customer in consideration converts ~30 times as often as one from awareness), pacing through the
day, reacting to competition: bid multipliers over a base bidder, the usual formulation of learned
autobidding. One multiplier for all stages could only scale the script, and the scripts already sit near the
best constant level (bench/bid_multiplier_sweep.py). A policy that had to rebuild a bid from scratch (an
earlier version: ``[bid, target stage, intensity]``) learned to bid on a sliver of the script's volume.

Observation (20 floats): the mean customer features of the hour's
opportunities (10: visits, purchases, spend, recency, cart value, LTV, churn and conversion
probability, stage, preferred category), market features (5: total spend, mean clearing
price, competition level, share of customers in consideration or churn risk, time of day)
and own state (5: spend, budget left today, win rate, ROAS, ROAS trend). Reward: the step's profit,
``(revenue - spend) / reward_scale``, what the verdicts judge (optional terms: ``conversion_weight x
conversions - cac_weight x CAC / 100 + share_weight x market share``, 0 by default: a conversion bonus had
ranked policies differently from their profit), where revenue is by default the expected revenue of
the step's wins (true P(click) x P(cart) x P(buy) x order value): the realised purchases are rare
and noisy, and against a certain spend term they taught policy-gradient learners to stop bidding.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from models.market.customers import BUY_RATE, CART_RATE, CHURN_RISK, CONSIDERATION, STAGES
from models.market.simulator import Market, MarketConfig, Strategy, make_market, step

OBS_SIZE = 20
N_STAGES = len(STAGES)
# Tagged on registered bidders: a bidder trained on another interface must not be played by this env.
ACTION_INTERFACE = "log2_bid_multiplier_by_stage"
ACTION_LOW = np.full(N_STAGES, -2.0, dtype=np.float32)   # log2 of the multiplier on the script's bids, per stage
ACTION_HIGH = np.full(N_STAGES, 2.0, dtype=np.float32)
SCRIPT_ACTION = np.zeros(N_STAGES, dtype=np.float32)     # bid exactly as the script
# A click's odds of turning into an order in each stage (cart rate x buy rate), log2, centred: the funnel report
# every advertiser has. It tilts the discrete grid below toward the stages where a click is worth more.
CONVERSION_TILT = np.log2(CART_RATE * BUY_RATE) - np.log2(CART_RATE * BUY_RATE).mean()
GRID_LEVELS = np.linspace(-2.0, 2.0, 9)   # log2 multipliers on every stage: x0.25 to x4 in half steps
GRID_TILTS = (0.0, 0.5, 1.0)              # how far each level leans along CONVERSION_TILT
# The discrete actions (for DQN): a level x a tilt, 27 rows. 9^6 free per-stage combinations would be no grid a
# Q-network can learn, and one level for all stages could only scale the script (which sits near the best
# constant level). The first nine rows are the untilted levels (index 4 is the script), the grid of DQN bidders
# trained before the tilt, so their indices keep their meaning.
ACTION_GRID = np.clip(
    np.array([lv + t * CONVERSION_TILT for t in GRID_TILTS for lv in GRID_LEVELS]), -2.0, 2.0
).astype(np.float32)

@dataclass(frozen=True)
class EnvConfig:
    """A market episode: its length, the reward's terms and the learners' daily budget."""

    market: MarketConfig = MarketConfig(customers=2000, arrival_rate=0.02, pool_size=5000)
    episode_steps: int = 168            # a week of hours
    reward_scale: float = 100.0
    conversion_weight: float = 0.0
    cac_weight: float = 0.0
    share_weight: float = 0.0           # > 0 rewards market share (cooperation / competition studies)
    expected_revenue: bool = True       # reward the expected value of the hour's wins, not the realised purchases
    learner_budget: float = 300.0      # of a learner without a script of its name


DEFAULT_ENV = EnvConfig()


def env_config(complexity: float, base: EnvConfig = DEFAULT_ENV) -> EnvConfig:
    """The environment of a curriculum stage: longer episodes, more customers and a living lifecycle as
    complexity grows from 0 to 1 (1 = ``base`` itself)."""
    if not 0 < complexity <= 1:
        raise ValueError(f"complexity must be in (0, 1], got {complexity}")
    m = base.market
    frozen = complexity < 0.5  # stage 1: customers keep their stage; bidding is the only lesson
    life = m.lifecycle if not frozen else replace(m.lifecycle, cool_after=10**9, churn_after=10**9, lost_after=10**9,
                                                  organic_visit_rate=0.0)
    market = replace(m, customers=max(100, int(m.customers * complexity)), lifecycle=life)
    return replace(base, market=market, episode_steps=max(24, int(base.episode_steps * complexity)))


def observation_space() -> gym.spaces.Box:
    return gym.spaces.Box(-1.0, 1.0, shape=(OBS_SIZE,), dtype=np.float32)


def action_space() -> gym.spaces.Box:
    return gym.spaces.Box(ACTION_LOW, ACTION_HIGH, dtype=np.float32)


# A frozen learned bidder: a batch of observations (n, OBS_SIZE) -> a batch of env actions.
Policy = Callable[[np.ndarray], np.ndarray]


class _Learners:
    """The market side shared by both envs: learners' bids in, observations and rewards out. ``opponents`` are
    learned bidders that stay frozen (another family's latest policy in league training): they bid through the
    same action interface, from their own observations, in place of the scripted rival of their name, and are
    not agents of the env."""

    def __init__(self, cfg: EnvConfig, rivals: list[Strategy], learners: list[str],
                 opponents: dict[str, Policy] | None = None, scripts: dict[str, Strategy] | None = None) -> None:
        self.cfg, self.rivals, self.names = cfg, rivals, learners
        self.scripts = {**{r.name: r for r in rivals}, **(scripts or {})}  # what each bidder bids through
        self.opponents = dict(opponents or {})
        self.next_opponents = dict(self.opponents)  # set between episodes; the next reset brings them in
        self.market: Market | None = None
        self.complexity = 1.0
        self.spend_values = np.zeros(len(learners))  # per learner: see RetargetingParallelEnv.set_spend_values

    def base(self, name: str) -> Strategy:
        """The strategy a learner or frozen opponent bids through: its script, else a neutral one."""
        if name in self.scripts:
            return self.scripts[name]
        return Strategy(name=name, multiplier=1.0, stages=tuple(s.lower() for s in STAGES),
                        daily_budget=self.cfg.learner_budget)

    def reset(self, seed: int) -> None:
        cfg = env_config(self.complexity, self.cfg) if self.complexity < 1 else self.cfg
        self.episode_steps = cfg.episode_steps
        self.opponents = dict(self.next_opponents)
        bidders = [*self.names, *self.opponents]  # learners first, so advertiser i is learner i
        scripted = [r for r in self.rivals if r.name not in self.opponents]  # a frozen learner replaces its script
        self.market = make_market(replace(cfg.market, seed=seed), [*(self.base(n) for n in bidders), *scripted])
        self.prev_roas = np.zeros(len(bidders))
        self.opponent_obs = [self.observe(len(self.names) + j) for j in range(len(self.opponents))]

    @staticmethod
    def multiplier(action: np.ndarray) -> np.ndarray:
        """The factors on the script's bids per lifecycle stage of an env action (a Discrete index means its
        ACTION_GRID row)."""
        a = np.asarray(action)
        a = ACTION_GRID[int(a)] if a.ndim == 0 else a.reshape(-1)
        if a.shape != (N_STAGES,):
            raise ValueError(f"a bidding action is one log2 multiplier per lifecycle stage {list(STAGES)}: "
                             f"{N_STAGES} values, got {a.shape[0]}")
        return 2.0 ** np.clip(a.astype(np.float64), ACTION_LOW, ACTION_HIGH)

    def step(self, actions: list[np.ndarray]) -> tuple[list[np.ndarray], list[float]]:
        m = self.market
        frozen = [policy(obs[None])[0] for policy, obs in zip(self.opponents.values(), self.opponent_obs)]
        row = step(m, self.cfg.episode_steps, {i: self.multiplier(a) for i, a in enumerate([*actions, *frozen])})
        rewards = []
        total_wins = max(float(row["wins"].sum()), 1.0)
        for i in range(len(self.names)):
            spend, conv = row["spend"][i], row["conversions"][i]
            revenue = row["expected_revenue" if self.cfg.expected_revenue else "revenue"][i]
            cac = spend / conv if conv > 0 else (spend if spend > 0 else 0.0)
            rewards.append(
                float(
                    (revenue - spend) / self.cfg.reward_scale
                    + self.cfg.conversion_weight * conv
                    - self.cfg.cac_weight * cac / 100
                    + self.cfg.share_weight * row["wins"][i] / total_wins
                    + self.spend_values[i] * spend / self.cfg.reward_scale
                )
            )
        shared = self.market_features()  # the same for every bidder: computed once per hour
        self.opponent_obs = [self.observe(len(self.names) + j, shared) for j in range(len(self.opponents))]
        return [self.observe(i, shared) for i in range(len(self.names))], rewards

    def market_features(self) -> np.ndarray:
        """The 15 observation floats every bidder shares: the hour's opportunities and the market."""
        m = self.market
        t = m.totals
        cust = m.last_opportunities
        rules = m.cfg.lifecycle
        cust_feats = m.customers.mean_features(cust, m.t, rules)
        last = m.history[-1] if m.history else None
        counts = m.customers.stage_counts  # kept by the lifecycle's moves: no sweep of the population per hour
        market = np.array([
            np.tanh(float(t["spend"].sum()) / 10_000),
            np.tanh((last["mean_price"] if last else 0.0) / 2),
            (float(last["bids"].sum() / max(last["auctions"][0], 1.0)) / m.k) if last else 0.0,
            float(counts[CONSIDERATION] + counts[CHURN_RISK]) / m.customers.n,
            (m.t % 24) / 23])
        return np.concatenate([cust_feats, market])

    def observe(self, i: int, shared: np.ndarray | None = None) -> np.ndarray:
        """Bidder ``i``'s observation: ``shared`` (market_features, computed here if not given) and its own state."""
        m = self.market
        t = m.totals
        shared = self.market_features() if shared is None else shared
        spend, revenue = float(t["spend"][i]), float(t["revenue"][i])
        roas = revenue / spend if spend > 0 else 0.0
        day_spend = float(t.get("_day_spend", np.zeros(m.k))[i]) / 100
        own = np.array([
            np.tanh(spend / 10_000), 1 - min(day_spend / m.strategies[i].daily_budget, 1.0),
            float(t["wins"][i] / t["bids"][i]) if t["bids"][i] > 0 else 0.0, np.tanh(roas / 4),
            np.tanh(roas - self.prev_roas[i])])
        self.prev_roas[i] = roas
        return np.clip(np.concatenate([shared, own]), -1.0, 1.0).astype(np.float32)


class RetargetingParallelEnv(ParallelEnv):
    """PettingZoo Parallel API: every name in ``learners`` is an agent; ``rivals`` stay scripted."""

    metadata = {"render_modes": [], "name": "retargeting_market_v0"}

    def __init__(self, learners: list[str], rivals: list[Strategy], cfg: EnvConfig = DEFAULT_ENV,
                 discrete: bool = False, opponents: dict[str, Policy] | None = None,
                 scripts: dict[str, Strategy] | None = None) -> None:
        self.cfg = cfg
        self.discrete = discrete
        self.possible_agents = list(learners)
        self.core = _Learners(cfg, rivals, list(learners), opponents, scripts)
        self.agents: list[str] = []
        self.steps = 0
        self._rng: np.random.Generator | None = None

    def set_complexity(self, complexity: float) -> None:
        """Curriculum: the next episodes run at this complexity (env_config)."""
        self.core.complexity = float(complexity)

    def set_opponents(self, opponents: dict[str, Policy]) -> None:
        """League training: from the next episode these frozen learned bidders take part (replacing any
        earlier ones), each in place of the scripted rival of its name. A learner of this env cannot be one."""
        clash = set(opponents) & set(self.possible_agents)
        if clash:
            raise ValueError(f"opponents {sorted(clash)} are learners of this env")
        self.core.next_opponents = dict(opponents)

    def set_spend_values(self, values: dict[str, float]) -> None:
        """A delivery constraint's Lagrange multipliers: from the next step each named learner's reward adds
        ``value x spend / reward_scale`` (a unit of spend is worth ``value`` to an advertiser that wants its
        budget delivered); 0 for a learner not named. The verdicts still judge profit alone."""
        unknown = set(values) - set(self.possible_agents)
        if unknown:
            raise ValueError(f"spend values for {sorted(unknown)}, which are not learners of this env")
        self.core.spend_values = np.array([float(values.get(a, 0.0)) for a in self.possible_agents])

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one space object per agent, as PettingZoo expects
    def observation_space(self, agent: str) -> gym.spaces.Box:
        return observation_space()

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def action_space(self, agent: str) -> gym.spaces.Space:
        return gym.spaces.Discrete(len(ACTION_GRID)) if self.discrete else action_space()

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """A new market: ``seed`` reproduces one exactly; without it (RLlib's auto-reset of finished
        sub-environments) the market seed is drawn from the env's generator, seeded by the last seeded reset
        (fresh entropy if there was none), as Gymnasium's ``np_random`` does, so episodes differ."""
        if seed is not None:
            self._rng = np.random.default_rng(int(seed))
            market_seed = int(seed)
        else:
            if self._rng is None:
                self._rng = np.random.default_rng()
            market_seed = int(self._rng.integers(2**31 - 1))
        self.core.reset(market_seed)
        self.agents = list(self.possible_agents)
        self.steps = 0
        return {a: self.core.observe(i) for i, a in enumerate(self.agents)}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, np.ndarray]) -> tuple[dict, dict, dict, dict, dict]:
        acts = [actions.get(a, SCRIPT_ACTION) for a in self.possible_agents]
        obs, rewards = self.core.step(acts)
        self.steps += 1
        done = self.steps >= self.core.episode_steps
        agents = self.agents
        out = ({a: obs[i] for i, a in enumerate(agents)}, {a: rewards[i] for i, a in enumerate(agents)},
               {a: False for a in agents}, {a: done for a in agents}, {a: {} for a in agents})
        if done:
            self.agents = []
        return out
