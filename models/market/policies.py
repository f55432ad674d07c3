"""The learning bidders' side of the market without a learning library: env construction from plain dicts
(what RLlib passes to env creators), algorithm families, and the fixed-seed evaluation of a bidding policy
against the scripted strategy it replaces.

Each algorithm family trains its own learners in the multi-agent market, the other advertisers bidding with
their scripted strategies: PPO for aggressive and adaptive, DQN (discrete bid grid) for conservative, APPO
for retargeting. The scripted advertisers' specs travel in the env dict (``advertisers``), so an env can be
rebuilt anywhere from the dict alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.market.envs import EnvConfig, Policy, RetargetingParallelEnv
from models.market.pricing_env import PricingEnv, PricingEnvConfig, ResidualPricingEnv
from models.market.simulator import MarketConfig, simulate, strategies_from_config, summary

ALGORITHMS = ("PPO", "DQN", "APPO")


def market_env(cfg: dict[str, Any], opponents: dict[str, Policy] | None = None) -> RetargetingParallelEnv:
    """The multi-agent env from a plain dict (what RLlib passes to env creators), ``advertisers`` included.
    ``opponents``: frozen learned bidders by name; each takes the place of the scripted rival of that name."""
    market = MarketConfig(customers=int(cfg["customers"]), arrival_rate=float(cfg["arrival_rate"]),
                          pool_size=int(cfg["pool_size"]))
    rivals = [n for n in cfg["rivals"] if n not in (opponents or {})]
    # Learners and frozen opponents bid through the scripts of their names (models.market.envs).
    own = [n for n in [*cfg["learners"], *(opponents or {})] if n in cfg["advertisers"]]
    return RetargetingParallelEnv(
        list(cfg["learners"]),
        strategies_from_config(cfg["advertisers"], rivals),
        EnvConfig(market=market, episode_steps=int(cfg["episode_steps"])),
        discrete=bool(cfg.get("discrete", False)),
        opponents=opponents,
        scripts={st.name: st for st in strategies_from_config(cfg["advertisers"], own)} if own else None,
    )


def pricing_env(cfg: dict[str, Any]) -> ResidualPricingEnv:
    """The learned pricer's env from a plain dict: its length and, optionally, P(agent) scores per class; the
    action is a residual on the elasticity rule (models.market.pricing_env)."""
    scores = cfg.get("agent_scores")
    return ResidualPricingEnv(PricingEnv(PricingEnvConfig(steps=int(cfg["steps"])),
                                         None if scores is None else (np.asarray(scores[0]), np.asarray(scores[1]))))


@dataclass(frozen=True)
class Family:
    """One algorithm and the learners it trains."""

    algorithm: str
    learners: tuple[str, ...]
    hyper: dict[str, Any]


def families(agents: dict[str, dict[str, Any]], hyper: dict[str, dict[str, Any]]) -> list[Family]:
    """Group the learning advertisers by algorithm (YAML order)."""
    out: dict[str, list[str]] = {}
    for name, spec in agents.items():
        if spec["algorithm"] not in ALGORITHMS:
            raise ValueError(f"agent {name!r}: algorithm must be PPO, DQN or APPO, got {spec['algorithm']!r}")
        out.setdefault(spec["algorithm"], []).append(name)
    return [Family(a, tuple(n), dict(hyper.get(a, {}))) for a, n in out.items()]


def evaluate_bidder(agent: str, policy: Any, env_cfg: dict[str, Any], seeds: list[int], steps: int,
                    scripted_too: bool = True, opponents: dict[str, Policy] | None = None) -> pd.DataFrame:
    """ROAS, profit, revenue and spend of ``agent`` bidding with ``policy(obs) -> action`` against the others
    (scripted, or the frozen learned ``opponents``), next to the scripted strategy of the same name on the same
    seeds and budget against scripted others (``scripted_too``; not with opponents)."""
    if scripted_too and opponents:
        raise ValueError("the scripted comparison is against scripted others: no opponents with scripted_too")
    rows = []
    names = list(env_cfg["advertisers"])
    rivals = [n for n in names if n != agent]
    for seed in seeds:
        env = market_env({**env_cfg, "learners": [agent], "rivals": rivals, "episode_steps": steps}, opponents)
        obs, _ = env.reset(seed=seed)
        for _ in range(steps):  # a loop over hours; each hour's auctions are vectorised
            obs, _, _, trunc, _ = env.step({agent: policy(obs[agent][None])[0]})
            if all(trunc.values()):
                break
        runs = [("learned", summary(env.core.market).iloc[0])]
        if scripted_too:
            runs.append(("scripted", scripted_run(agent, env_cfg, seed, steps)))
        for kind, r in runs:
            rows.append(
                {
                    "agent": agent,
                    "policy": kind,
                    "seed": seed,
                    "roas": float(r["roas"]) if r["spend"] > 0 else 0.0,
                    "profit": float(r["revenue"] - r["spend"]),
                    "revenue": float(r["revenue"]),
                    "spend": float(r["spend"]),
                    "conversions": float(r["conversions"]),
                }
            )
    return pd.DataFrame(rows)


def scripted_run(agent: str, env_cfg: dict[str, Any], seed: int, steps: int) -> pd.Series:
    """What the scripted strategy ``agent`` does on ``seed`` against the other scripts (summary's row: spend,
    revenue, ROAS, ...): the side a learned bidder is compared with."""
    names = list(env_cfg["advertisers"])
    mcfg = MarketConfig(customers=int(env_cfg["customers"]), arrival_rate=float(env_cfg["arrival_rate"]),
                        pool_size=int(env_cfg["pool_size"]), seed=seed)
    order = [agent, *(n for n in names if n != agent)]
    return summary(simulate(mcfg, strategies_from_config(env_cfg["advertisers"], order), steps)).iloc[0]
