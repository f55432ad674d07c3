"""auction_scenarios / pricing_scenarios: every policy on the same seeds (common random numbers).

Auctions: each scenario (a set of advertisers) x pCTR source x seed is one month of hourly
auctions. The source (champion CTR model, noisy oracle, or one average CTR: no model) is
what the focal advertiser (``ctr_focal``, "us") bids with, while its rivals bid with
``rival_ctr``; the inventory and the seeds are shared, so the focal advertiser's profit
difference between sources is what the CTR model is worth to it, in money. (If every
bidder used the same estimate, it would scale every bid alike and change little: the
value of a CTR model is relative.)
Pricing: each scenario x policy x seed is one episode of the pricing env.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from jobs.market.advertisers import load_advertisers
from jobs.market_nightly.config import NightlyConfig
from jobs.paths import RunContext, atomic_path
from models.common.streams import stream
from models.market.auction import AuctionRules
from models.market.customers import STAGES
from models.market.pricing_env import BASELINES, PricingEnvConfig, run_episode
from models.market.simulator import Market, MarketConfig, inventory, simulate, strategies_from_config, summary

log = logging.getLogger(__name__)


def pools(cfg: NightlyConfig, state: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One inventory per pCTR source (the compared ones and the rivals'), all over the same impressions."""
    import mlflow

    out = {}
    base = inventory(cfg.pool_size, cfg.seed, None, cfg.ctr_noise, cfg.world_seed)
    for source in dict.fromkeys([*cfg.ctr_estimates, cfg.rival_ctr, "noisy_oracle"]):
        if source == "noisy_oracle":
            out[source] = base
        elif source == "none":
            out[source] = (base[0], np.full_like(base[0], float(base[0].mean())), base[2])
        elif (state.get("champions") or {}).get("ctr"):
            model = mlflow.pyfunc.load_model(state["champions"]["ctr"]["uri"])
            out[source] = inventory(cfg.pool_size, cfg.seed, model, world_seed=cfg.world_seed)
        else:
            log.info("no ctr_lightgbm champion: the 'champion' pCTR source is skipped")
    # How well each source ranks the inventory's impressions (clicks drawn once from the true CTRs).
    from sklearn.metrics import roc_auc_score

    clicks = stream(cfg.seed, "market.clicks").random(len(base[0])) < base[0]
    aucs = {"truth": float(roc_auc_score(clicks, base[0]))}
    aucs.update({s: float(roc_auc_score(clicks, pool[1])) if np.ptp(pool[1]) > 0 else 0.5 for s, pool in out.items()})
    mlflow.log_metrics({f"pctr_auc.{s}": v for s, v in aucs.items()})
    log.info(
        "pCTR sources on the inventory, AUC against simulated clicks: %s", {s: round(v, 3) for s, v in aucs.items()}
    )
    return out


def market_figures(m: Market) -> dict[str, float]:
    t = m.totals
    spend, revenue = float(t["spend"].sum()), float(t["revenue"].sum())
    stage = m.customers.stage
    return {"market_spend": spend, "market_revenue": revenue, "market_roas": revenue / spend if spend else 0.0,
            "market_ctr": float(t["clicks"].sum() / max(t["wins"].sum(), 1)),
            "market_clicks": float(t["clicks"].sum()), "market_impressions": float(t["wins"].sum()),
            "market_conversions": float(t["conversions"].sum()),
            "churn_rate": float((stage == STAGES.index("CHURN_RISK")).mean()),
            "clv": float(m.customers.lifetime_value(m.t, m.cfg.lifecycle).mean())}


def timeseries(m: Market, scenario: str, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per step and advertiser: cumulative spend and revenue; per step: stage mix and mean bid by stage."""
    names = [s.name for s in m.strategies]
    spend = np.cumsum(np.vstack([r["spend"] for r in m.history]), axis=0)
    revenue = np.cumsum(np.vstack([r["revenue"] for r in m.history]), axis=0)
    ts = pd.DataFrame(
        {
            "t": np.repeat(np.arange(len(m.history)), len(names)),
            "advertiser": np.tile(names, len(m.history)),
            "spend": spend.ravel(),
            "revenue": revenue.ravel(),
        }
    ).assign(scenario=scenario, source=source)
    mix = np.vstack([r["stage_mix"] for r in m.history])
    bids = np.vstack([r["bid_by_stage"] for r in m.history])
    market = pd.DataFrame({"t": np.arange(len(m.history)), "hour": [r["hour"] for r in m.history],
                           **{f"share_{s.lower()}": mix[:, i] for i, s in enumerate(STAGES)},
                           **{f"bid_{s.lower()}": bids[:, i] for i, s in enumerate(STAGES)}})
    return ts, market


def run_auctions(cfg: NightlyConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Every auction scenario x pCTR source x seed; per-advertiser and market figures, time series of one run."""
    import mlflow

    doc = load_advertisers()
    inventories = pools(cfg, state)
    if cfg.rival_ctr not in inventories:
        log.info("rivals cannot bid with the %s pCTR (none registered): they use the noisy oracle", cfg.rival_ctr)
    rival = inventories.get(cfg.rival_ctr, inventories["noisy_oracle"])
    compared = {k: v for k, v in inventories.items() if k in cfg.ctr_estimates}
    rows, market_rows = [], []
    series: list[pd.DataFrame] = []
    total = len(cfg.auction_scenarios) * len(compared) * cfg.seeds
    t0, done = time.monotonic(), 0
    for scenario, names in cfg.auction_scenarios.items():
        strategies = strategies_from_config(doc, list(names) or list(cfg.advertisers) or None)
        focal = (
            [s.name for s in strategies].index(cfg.ctr_focal) if cfg.ctr_focal in [s.name for s in strategies] else 0
        )
        for source, own in compared.items():
            pctr = np.repeat(rival[1][None, :], len(strategies), axis=0)
            pctr[focal] = own[1]
            pool = (own[0], pctr, own[2])
            for i in range(cfg.seeds):  # a loop over simulation runs; each run is vectorised per step
                mcfg = MarketConfig(customers=cfg.customers, arrival_rate=cfg.arrival_rate, pool_size=cfg.pool_size,
                                    ctr_noise=cfg.ctr_noise, seed=cfg.seed + i, world_seed=cfg.world_seed,
                                    rules=AuctionRules(tie_break=cfg.tie_break))
                m = simulate(mcfg, strategies, cfg.steps, pool=pool)
                rows.append(summary(m).assign(scenario=scenario, source=source, seed=i,
                                              focal=[j == focal for j in range(len(strategies))]))
                market_rows.append({"scenario": scenario, "source": source, "seed": i, **market_figures(m)})
                if i == 0 and not series:
                    series = list(timeseries(m, scenario, source))
                done += 1
                rate = done / (time.monotonic() - t0)
                log.info("auctions: %d/%d runs (%s, %s, seed %d), %.2f runs/s, ETA %.0fs", done, total, scenario,
                         source, i, rate, (total - done) / rate)
    out = ctx.run_dir / "auctions"
    files = {"advertisers": pd.concat(rows, ignore_index=True), "market": pd.DataFrame(market_rows),
             "timeseries": series[0], "market_timeseries": series[1]}
    for name, df in files.items():
        with atomic_path(out / f"{name}.parquet") as tmp:
            df.to_parquet(tmp, index=False)
    learned = learned_bidders(cfg, state)
    if learned is not None:
        with atomic_path(out / "learned.parquet") as tmp:
            learned.to_parquet(tmp, index=False)
    mlflow.log_metrics({"auction_runs": total, "auction_seconds": time.monotonic() - t0})
    return {**state, "auctions_dir": str(out), "ctr_sources": list(compared),
            "learned_path": str(out / "learned.parquet") if learned is not None else None}


def learned_bidders(cfg: NightlyConfig, state: dict[str, Any]) -> pd.DataFrame | None:
    """Each champion learned bidder next to the scripted strategy it replaces, on the night's seeds and budget."""
    import mlflow

    from jobs.market.policy_models import OBS_COLUMNS
    from models.market.policies import evaluate_bidder

    bidders = (state.get("champions") or {}).get("bidders") or {}
    frames = []
    env_cfg = {"customers": cfg.customers, "arrival_rate": cfg.arrival_rate, "pool_size": cfg.pool_size,
               "advertisers": load_advertisers()}
    for agent, champ in bidders.items():
        model = mlflow.pyfunc.load_model(champ["uri"])

        def policy(obs: np.ndarray, model: Any = model) -> np.ndarray:
            return model.predict(pd.DataFrame(obs, columns=OBS_COLUMNS)).to_numpy(np.float32)

        df = evaluate_bidder(agent, policy, env_cfg, [cfg.seed + i for i in range(cfg.seeds)], cfg.steps)
        frames.append(df.assign(model=f"{champ['name']} v{champ['version']}"))
        log.info(
            "learned %s (%s v%s) vs scripted over %d seeds done", agent, champ["name"], champ["version"], cfg.seeds
        )
    return pd.concat(frames, ignore_index=True) if frames else None


def pricing_policies(state: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Policy name -> (policy, agent scores or None): the baselines, and the elasticity rule fed by the
    champion classifier's estimate of the agent mix when there is one."""
    policies: dict[str, tuple[Any, Any]] = {name: (pol, None) for name, pol in BASELINES.items()}
    if state.get("agent_scores_path"):
        s = pd.read_parquet(state["agent_scores_path"])
        scores = (s.loc[s["label"] == 0, "p_agent"].to_numpy(), s.loc[s["label"] == 1, "p_agent"].to_numpy())
        policies["elasticity (classifier mix)"] = (BASELINES["elasticity"], scores)
    champ = (state.get("champions") or {}).get("pricing_policy")
    if champ is None:
        log.info("no pricing_policy@champion: the learned pricing policy is not in tonight's comparison")
        return policies
    import mlflow

    from jobs.market.policy_models import PRICING_COLUMNS

    model = mlflow.pyfunc.load_model(champ["uri"])

    def learned(obs: np.ndarray, pcfg: PricingEnvConfig) -> float:
        return float(model.predict(pd.DataFrame([obs], columns=PRICING_COLUMNS))["multiplier"].iloc[0])

    policies[f"learned ({champ['name']} v{champ['version']})"] = (learned, None)
    return policies


def run_pricing(cfg: NightlyConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Every pricing scenario x policy x seed."""
    import mlflow

    rows = []
    policies = pricing_policies(state)
    for scenario, overrides in cfg.pricing_scenarios.items():
        pcfg = replace(PricingEnvConfig(steps=cfg.pricing_steps), **overrides)
        for name, (policy, scores) in policies.items():
            for i in range(cfg.pricing_seeds):
                rows.append({"scenario": scenario, "policy": name, "seed": i,
                             **run_episode(pcfg, policy, cfg.seed + i, scores)})
    df = pd.DataFrame(rows)
    path = ctx.run_dir / "pricing" / "results.parquet"
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    mlflow.log_metric("pricing_episodes", len(df))
    log.info("pricing: %d episodes (%d scenarios x %d policies x %d seeds)", len(df), len(cfg.pricing_scenarios),
             len(policies), cfg.pricing_seeds)
    return {**state, "pricing_path": str(path)}
