"""train_bidders / evaluate_bidders / train_pricing: RLlib training with the curriculum, and the honest
comparison of each learned policy with what it replaces, on fixed seeds at equal budget."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.market_rl_training.config import RlConfig
from jobs.market_rl_training.delivery import Delivery, delivery_png
from jobs.paths import RunContext, atomic_path, save_directory, write_json, write_table
from jobs.plots import pyplot, save_png
from models.common.intervals import t_interval
from models.common.streams import derived_seed
from models.market.curriculum import Curriculum

log = logging.getLogger(__name__)


def curves_png(history: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for (family, agent), g in history.groupby(["family", "agent"], sort=False):
        ax.plot(g["iteration"], g["episode_return_mean"], marker="o", ms=3, label=f"{agent} ({family})")
    for it in history.loc[history["promoted"] & (history["family"] == history["family"].iloc[0]), "iteration"]:
        ax.axvline(it + 0.5, color="grey", ls=":")
    ax.set(
        xlabel="training iteration (dotted: next curriculum stage)",
        ylabel="mean episode return (all learners of the family)",
        title="Learning curves",
    )
    ax.legend(fontsize=8)
    save_png(fig, path, dpi=100)
    return path


def run_train_bidders(cfg: RlConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Each algorithm family through the curriculum; checkpoints, learning curves, TensorBoard logs; every
    ``eval_every`` iterations (and at the last) the learners are evaluated and the best one per agent is kept."""
    import mlflow
    import ray
    from tensorboardX import SummaryWriter

    from jobs.market.rllib import build, remote_env_runners, set_spend_values, start_ray, train_curriculum
    from models.market.policies import families

    out = ctx.run_dir / "bidders"
    if not os.environ.get("PYTHONHASHSEED"):
        log.warning("PYTHONHASHSEED is not set: RLlib samples a family's learners in the order of a set of their "
                    "names, which the per-process hash salt changes, so a PPO family of two learners trains "
                    "differently from run to run; make, docker-compose, `python -m jobs` and "
                    "bench/rl_training.py set it to 0")
    start_ray()
    delivery = Delivery.measure(list(cfg.agents), cfg.env(), cfg.eval_seed_list("select"), cfg.eval_steps,
                                cfg.spend_floor, cfg.spend_value_step)
    log.info("spend to deliver (%.0f%% of each script's on the selection seeds): %s", 100 * cfg.spend_floor,
             {a: round(cfg.spend_floor * v, 1) for a, v in delivery.script_spend.items()})
    rows, policies, stage_seconds = [], {}, {}
    writer = SummaryWriter(str(out / "tensorboard"))
    step = 0
    # (family, its last checkpoint, its last iteration): one Algorithm is alive at a time, so on a Ray cluster a
    # family's env-runner actors are released before the next family asks for theirs.
    trained: list[tuple[Any, str, int]] = []
    try:
        for fam in families(cfg.agents, cfg.hyperparameters):
            t0 = time.monotonic()
            algo = build(fam, cfg.env(), cfg.batch, cfg.seed, cfg.envs_per_runner,
                         remote_env_runners(cfg.cluster_env_runners), cfg.dqn_envs_per_runner)
            log.info("%s: built for %s in %.1f s", fam.algorithm, list(fam.learners), time.monotonic() - t0)

            best: dict[str, tuple[bool, float]] = {}

            def on_iteration(row: dict[str, Any], fam=fam, algo=algo, best=best) -> None:
                nonlocal step
                step += 1
                tag = f"{fam.algorithm}_{'_'.join(fam.learners)}"
                if row["iteration"] % cfg.eval_every == 0 or row.get("checkpoint"):
                    keep_best(algo, fam, row["iteration"], best, policies, out, cfg, delivery)
                    set_spend_values(algo, delivery.values)
                writer.add_scalar(f"{tag}/episode_return_mean", row["episode_return_mean"], row["iteration"])
                mlflow.log_metrics(
                    {
                        f"{tag}.episode_return_mean": np.nan_to_num(row["episode_return_mean"]),
                        f"{tag}.env_steps_per_s": cfg.batch / max(row["seconds"], 1e-9),
                    },
                    step=row["iteration"],
                )
                log.info(
                    "%s iteration %d (%s): mean return %.3f, %.1f s, %.0f env steps/s",
                    tag,
                    row["iteration"],
                    row["stage"],
                    row["episode_return_mean"],
                    row["seconds"],
                    cfg.batch / max(row["seconds"], 1e-9),
                )

            try:
                history = train_curriculum(algo, Curriculum(cfg.stages()), on_iteration, cfg.checkpoint_every,
                                           out / "checkpoints" / fam.algorithm)
            finally:
                algo.stop()
            trained.append((fam, history[-1]["checkpoint"], history[-1]["iteration"]))
            for r in history:
                rows.extend({**r, "family": fam.algorithm, "agent": a} for a in fam.learners)
                if "stage_seconds" in r:
                    stage_seconds[f"{fam.algorithm}.{r['stage']}"] = round(r["stage_seconds"], 1)
        league, league_curves = play_league(cfg, trained, policies, out, delivery)
        rows.extend(league_curves)
    finally:
        writer.close()
        ray.shutdown()
    hist = pd.DataFrame(rows)
    with atomic_path(out / "history.csv") as tmp:
        hist.drop(columns=["checkpoint"], errors="ignore").to_csv(tmp, index=False)
    png = curves_png(hist, out / "learning_curves.png")
    artifacts = [out / "history.csv", png]
    if delivery.history:
        spend = pd.DataFrame(delivery.history)
        artifacts += [write_table(spend, out / "delivery.csv"), delivery_png(spend, cfg.spend_floor,
                                                                             out / "delivery.png")]
    if len(league):
        artifacts += [write_table(league, out / "league.csv"), league_png(league, out / "league.png")]
    for p in artifacts:
        mlflow.log_artifact(str(p), "training")
    mlflow.log_artifacts(str(out / "tensorboard"), "tensorboard")
    timed = hist[hist["stage"].isin([s.name for s in cfg.stages()])]
    steps_per_s = float(cfg.batch / timed.drop_duplicates(["family", "iteration"])["seconds"].mean())
    mlflow.log_metrics({"env_steps_per_s": steps_per_s, **{f"stage_seconds.{k}": v for k, v in stage_seconds.items()}})
    write_json(out / "policies.json", policies)
    return {"policies": policies, "stage_seconds": stage_seconds, "env_steps_per_s": round(steps_per_s, 1),
            "bidders_dir": str(out), "league": league.to_dict(orient="records")}


def play_league(cfg: RlConfig, trained: list[tuple[Any, str, int]], policies: dict[str, Any],
                out: Path, delivery: Delivery) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """League rounds after the curriculum: each family in turn trains ``league_iterations`` more iterations in the
    full market against every other learner's current policy, frozen (alternating best responses), instead of
    their scripts. Before and after, each of its learners plays the selection seeds against those same frozen
    policies; the paired profit gain is how much re-training against the league was worth (an exploitability
    proxy: it shrinks as the policies approach a mutual best response). A re-trained policy replaces the
    league's only when it ranks higher there (``delivery.rank``: it delivers its spend, then profit) and no
    lower against the scripted market on the same seeds (where the kept policy was picked and where the verdict
    judges it): a better response to the league that earns less against the scripts is a specialist, and with
    it kept the medium run's conservative DQN was judged +25 (-1, +51) where its curriculum policy, alone,
    earned +56 (+19, +94). The learners train at their last spend values (no dual steps within the league).

    Returns one row per round and learner (gain with its 95% interval, the profits against the scripts, whether
    it was kept) and the league iterations' learning-curve rows."""
    import mlflow

    from jobs.market.rllib import (
        act,
        build,
        frozen_policies,
        remote_env_runners,
        set_complexity,
        set_opponents,
        set_spend_values,
    )
    from models.market.policies import evaluate_bidder

    seeds = cfg.eval_seed_list("select")
    env = cfg.env()

    def profits(agent: str, policy: Any, opponents: dict[str, Any] | None = None) -> tuple[np.ndarray, float]:
        """Profit per selection seed (sorted) and the mean spend, against ``opponents`` (else the scripts)."""
        df = evaluate_bidder(agent, policy, env, seeds, cfg.eval_steps, scripted_too=False, opponents=opponents)
        return df.sort_values("seed")["profit"].to_numpy(), float(df["spend"].mean())

    rows, curves = [], []
    for rnd in range(1, cfg.league_rounds + 1):
        for k, (fam, ckpt, last) in enumerate(trained):
            league = {a: p["module"] for a, p in policies.items()}
            others = {a: m for a, m in league.items() if a not in fam.learners}
            before = {a: profits(a, frozen_policies({a: league[a]})[a],
                                 frozen_policies({o: m for o, m in league.items() if o != a}))
                      for a in fam.learners}
            # The family's Algorithm comes back from its last checkpoint (weights, optimiser, iteration count).
            algo = build(fam, env, cfg.batch, cfg.seed, cfg.envs_per_runner,
                         remote_env_runners(cfg.cluster_env_runners), cfg.dqn_envs_per_runner)
            try:
                algo.restore_from_path(ckpt)
                set_complexity(algo, 1.0)
                set_opponents(algo, others)
                set_spend_values(algo, delivery.values)
                t0 = time.monotonic()
                for _ in range(cfg.league_iterations):  # a loop over training iterations
                    t_it = time.monotonic()
                    result = algo.train()
                    last += 1
                    mean = float(result.get("env_runners", {}).get("episode_return_mean", np.nan))
                    # Numbered on from the curriculum's iterations: the learning curves continue through the league.
                    curves.extend({"iteration": last, "stage": f"league round {rnd}", "complexity": 1.0,
                                   "episode_return_mean": mean, "seconds": time.monotonic() - t_it,
                                   "promoted": False, "family": fam.algorithm, "agent": a} for a in fam.learners)
                seconds = time.monotonic() - t0
                ckpt = str(save_directory(algo.save_to_path, out / "checkpoints" / fam.algorithm / f"league_{rnd}"))
                trained[k] = (fam, ckpt, last)
                modules = {a: algo.get_module(a) for a in fam.learners}
                for agent, module in modules.items():
                    after, spend = profits(agent, lambda obs, m=module: act(m, obs, m.action_space),
                                           frozen_policies({o: m for o, m in league.items() if o != agent}))
                    earlier, earlier_spend = before[agent]
                    earlier_vs_scripts, earlier_vs_scripts_spend = policies[agent]["eval_profit"], policies[agent][
                        "eval_spend"]
                    gain = t_interval(after - earlier)
                    vs_scripts, vs_scripts_spend = profits(agent, lambda obs, m=module: act(m, obs, m.action_space))
                    better = delivery.rank(agent, after.mean(), spend) > delivery.rank(agent, earlier.mean(),
                                                                                      earlier_spend)
                    no_worse = delivery.rank(agent, vs_scripts.mean(), vs_scripts_spend) >= delivery.rank(
                        agent, earlier_vs_scripts, earlier_vs_scripts_spend)
                    kept = better and no_worse
                    if kept:
                        path = out / "league" / f"round_{rnd}" / agent
                        save_directory(module.save_to_path, path)
                        policies[agent] = {**policies[agent], "module": str(path), "league_round": rnd,
                                           "eval_profit": float(vs_scripts.mean()), "eval_spend": vs_scripts_spend,
                                           "spend_share": delivery.share(agent, vs_scripts_spend)}
                    rows.append({"round": rnd, "family": fam.algorithm, "agent": agent,
                                 "opponents": ", ".join(sorted(others)),
                                 "profit_before": float(earlier.mean()), "profit_after": float(after.mean()),
                                 "spend_share_before": delivery.share(agent, earlier_spend),
                                 "spend_share_after": delivery.share(agent, spend),
                                 "gain": float(gain["mean"]), "gain_lo": float(gain["lo"]),
                                 "gain_hi": float(gain["hi"]), "better_against_league": better,
                                 "profit_against_scripts_before": float(earlier_vs_scripts),
                                 "profit_against_scripts_after": float(vs_scripts.mean()),
                                 "spend_share_against_scripts_before": delivery.share(agent, earlier_vs_scripts_spend),
                                 "spend_share_against_scripts_after": delivery.share(agent, vs_scripts_spend),
                                 "no_worse_against_scripts": no_worse, "kept": kept,
                                 "train_seconds": round(seconds, 1)})
                    mlflow.log_metrics({f"league.{agent}.gain": float(gain["mean"]),
                                        f"league.{agent}.profit": float((after if kept else earlier).mean())},
                                       step=rnd)
                    log.info("league round %d, %s (%s) against %s: profit %.1f -> %.1f, gain %+.1f [%+.1f, %+.1f] "
                             "on %.0f%% -> %.0f%% of its script's spend; against the scripts %.1f -> %.1f%s", rnd,
                             agent, fam.algorithm, sorted(others), earlier.mean(), after.mean(), gain["mean"],
                             gain["lo"], gain["hi"], 100 * delivery.share(agent, earlier_spend),
                             100 * delivery.share(agent, spend), earlier_vs_scripts, vs_scripts.mean(),
                             " (kept)" if kept else " (the earlier policy stays)")
            finally:
                algo.stop()
    table = pd.DataFrame(rows)
    if len(table):
        by_round = exploitability(table)
        for rnd, total in by_round.items():
            mlflow.log_metric("league.exploitability", float(total), step=int(rnd))
        log.info("league: exploitability proxy (profit the best responses found) per round %s",
                 by_round.round(1).to_dict())
    return table, curves


def exploitability(league: pd.DataFrame) -> pd.Series:
    """Per round, what the learners' re-training found to gain against the others: the sum of the positive
    gains (a re-training that earned less found nothing, and its policy was not kept). Near zero when every
    policy is a best response to the rest."""
    return league.assign(found=league["gain"].clip(lower=0)).groupby("round")["found"].sum()


def league_png(table: pd.DataFrame, path: Path) -> Path:
    """Gain from re-training against the league per round and learner, with 95% intervals."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    agents = list(dict.fromkeys(table["agent"]))
    width = 0.8 / max(len(agents), 1)
    for j, agent in enumerate(agents):
        g = table[table["agent"] == agent]
        x = g["round"].to_numpy() + (j - (len(agents) - 1) / 2) * width
        ax.bar(x, g["gain"], width, label=agent)
        ax.errorbar(x, g["gain"], yerr=[g["gain"] - g["gain_lo"], g["gain_hi"] - g["gain"]], fmt="none", c="k",
                    lw=1)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="league round", ylabel="profit gain per week from re-training (95%)",
           title="Exploitability proxy: what re-training against the other learners is worth")
    ax.set_xticks(sorted(table["round"].unique()))
    ax.legend(fontsize=8)
    save_png(fig, path, dpi=100)
    return path


def keep_best(algo: Any, fam: Any, iteration: int, best: dict[str, tuple[bool, float]], policies: dict[str, Any],
              out: Path, cfg: RlConfig, delivery: Delivery) -> None:
    """Evaluate every learner of the family on the selection seeds (learned side only) and keep the best module
    so far per agent: one that delivers its spend (``delivery``) over one that does not, then the best profit
    (the verdict's measure: picking on ROAS favoured bidders that barely bid). That is the policy that gets
    judged on the verdict seeds and registered. Each evaluation also takes a dual step on the agent's spend
    value (the caller hands the new values to the envs)."""
    import mlflow

    from jobs.market.rllib import act
    from models.market.policies import evaluate_bidder

    seeds = cfg.eval_seed_list("select")
    for agent in fam.learners:
        module = algo.get_module(agent)
        df = evaluate_bidder(agent, lambda obs, m=module: act(m, obs, m.action_space), cfg.env(), seeds, cfg.eval_steps,
                             scripted_too=False)
        profit, roas, spend = float(df["profit"].mean()), float(df["roas"].mean()), float(df["spend"].mean())
        share, rank = delivery.share(agent, spend), delivery.rank(agent, profit, spend)
        value = delivery.update(agent, spend, iteration)
        mlflow.log_metrics({f"{agent}.eval_profit": profit, f"{agent}.eval_roas": roas,
                            f"{agent}.eval_spend_share": share, f"{agent}.spend_value": value}, step=iteration)
        if agent not in best or rank > best[agent]:
            best[agent] = rank
            path = out / "policies" / agent
            save_directory(module.save_to_path, path)
            policies[agent] = {"algorithm": fam.algorithm, "module": str(path), "best_iteration": iteration,
                               "eval_profit": profit, "eval_spend": spend, "eval_roas": roas, "spend_share": share}
        log.info("%s: evaluation profit %.1f (ROAS %.2f) on %.0f%% of its script's spend at iteration %d (kept: "
                 "%.1f at %d); spend value now %.2f", agent, profit, roas, 100 * share, iteration,
                 policies[agent]["eval_profit"], policies[agent]["best_iteration"], value)


def interval_says(gain: dict[str, float]) -> str:
    """What a paired difference's 95% interval says of the learned policy against what it replaces."""
    return "beats" if gain["lo"] > 0 else "loses to" if gain["hi"] < 0 else "is not distinguishable from"


# A learned bidder "beats" its script only while spending at least this share of what the script spends: a
# better ROAS on a sliver of the budget is not a better bidder.
COMPARABLE_SPEND = 0.8
OUT_EARNS = "out-earns on less spend"  # the verdict of a bidder that beats its script below that share


def says_of(verdict: str, what: str = "its script") -> str:
    """A verdict as a sentence about ``what``: "beats its script", "out-earns its script on less spend"."""
    return f"out-earns {what} on less spend" if verdict == OUT_EARNS else f"{verdict} {what}"


def verdict(wide: pd.DataFrame) -> dict[str, Any]:
    """Learned against scripted over the same seeds (``wide``: seed x metric x policy): the paired profit difference
    (revenue - spend) and the ROAS difference with their 95% intervals, the learned bidder's spend as a share of the
    script's, and the verdict on profit at comparable spend."""
    profit = (wide["revenue"]["learned"] - wide["spend"]["learned"]) - (wide["revenue"]["scripted"]
                                                                       - wide["spend"]["scripted"])
    gain, roas = t_interval(profit), t_interval(wide["roas"]["learned"] - wide["roas"]["scripted"])
    spend_share = float(wide["spend"]["learned"].sum() / wide["spend"]["scripted"].sum()) \
        if wide["spend"]["scripted"].sum() > 0 else None  # the script spent nothing: no share (JSON: null)
    says = interval_says(gain)
    if says == "beats" and spend_share is not None and spend_share < COMPARABLE_SPEND:
        says = OUT_EARNS
    return {
        "profit_diff": float(gain["mean"]),
        "profit_diff_lo": float(gain["lo"]),
        "profit_diff_hi": float(gain["hi"]),
        "spend_share": spend_share,
        "roas_diff": float(roas["mean"]),
        "roas_diff_lo": float(roas["lo"]),
        "roas_diff_hi": float(roas["hi"]),
        "verdict": says,
    }


def run_evaluate_bidders(cfg: RlConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Each learned bidder against the scripted strategy it replaces: same seeds, same daily budget."""
    import mlflow

    from jobs.market.rllib import act, load_module
    from models.market.policies import evaluate_bidder

    seeds = cfg.eval_seed_list("verdict")
    frames, summary = [], []
    for agent, p in state["policies"].items():
        module = load_module(p["module"])
        df = evaluate_bidder(agent, lambda obs, m=module: act(m, obs, m.action_space), cfg.env(), seeds, cfg.eval_steps)
        frames.append(df)
        v = verdict(df.pivot(index="seed", columns="policy", values=["roas", "revenue", "spend"]))
        means = df.groupby("policy")[["spend", "revenue"]].mean()
        # ROAS over the seeds as revenue over spend (a ratio of sums; 0 for a bidder that spent nothing, as
        # models.market.policies scores a seed); the verdict pairs the seeds' own ROAS.
        roas = (means["revenue"] / means["spend"].where(means["spend"] > 0)).fillna(0.0)
        row = {
            "agent": agent,
            "algorithm": p["algorithm"],
            "learned_roas": float(roas["learned"]),
            "scripted_roas": float(roas["scripted"]),
            **v,
            "learned_spend": float(means.loc["learned", "spend"]),
            "scripted_spend": float(means.loc["scripted", "spend"]),
            "learned_revenue": float(means.loc["learned", "revenue"]),
            "scripted_revenue": float(means.loc["scripted", "revenue"]),
        }
        summary.append(row)
        mlflow.log_metrics(
            {
                f"{agent}.learned_roas": row["learned_roas"],
                f"{agent}.scripted_roas": row["scripted_roas"],
                f"{agent}.roas_diff": v["roas_diff"],
                f"{agent}.profit_diff": v["profit_diff"],
                **({f"{agent}.spend_share": v["spend_share"]} if v["spend_share"] is not None else {}),
            }
        )
        log.info("%s (%s): profit %+.0f [%+.0f, %+.0f] against its script on %.0f%% of its spend (ROAS %.2f vs "
                 "%.2f): it %s", agent, p["algorithm"], v["profit_diff"], v["profit_diff_lo"],
                 v["profit_diff_hi"], 100 * (v["spend_share"] or 0.0), row["learned_roas"], row["scripted_roas"],
                 says_of(v["verdict"]))
    out = ctx.run_dir / "evaluation"
    write_table(pd.concat(frames), out / "bidders_by_seed.csv")
    table = pd.DataFrame(summary)
    write_table(table, out / "bidders.csv")
    for name in ("bidders_by_seed.csv", "bidders.csv"):
        mlflow.log_artifact(str(out / name), "evaluation")
    return {**state, "bidder_eval": summary}  # the rows as built: an undefined spend share stays None (JSON null)


def run_train_pricing(cfg: RlConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """PPO on the pricing env (the agent fraction in its state estimated by the pricing_multitask champion, or
    the agent_classifier's, when there is one), then the baselines and PPO on the same evaluation seeds."""
    import mlflow
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig

    from jobs.market.agent_scores import agent_scores
    from jobs.market.rllib import PRICING_ENV, act, start_ray
    from jobs.registry import champion_version
    from models.market.pricing_env import (
        BASELINES,
        PricingEnvConfig,
        ResidualPricingEnv,
        residual_multipliers,
        run_episode,
    )

    # The state's agent fraction: the multi-task model's P(agent) (else the classifier's) over the hour's sessions.
    scores, variant = None, "true agent mix in the state"
    client = mlflow.MlflowClient()
    version = champion_version(client, "pricing_multitask") or champion_version(client, "agent_classifier")
    if version is not None:
        path = agent_scores(version, ctx.run_dir / "pricing" / "agent_scores.parquet")
        if path:
            s = pd.read_parquet(path)
            scores = (s.loc[s["label"] == 0, "p_agent"].tolist(), s.loc[s["label"] == 1, "p_agent"].tolist())
            variant = f"agent mix estimated by {version.name} v{version.version}"
    else:
        log.info("no pricing_multitask or agent_classifier champion: the pricing PPO sees the true agent mix")
    pcfg = PricingEnvConfig()
    ph = cfg.pricing_hyperparameters
    start_ray()
    try:
        algo = (
            PPOConfig()
            .environment(PRICING_ENV, env_config={"steps": pcfg.steps, "agent_scores": scores})
            .env_runners(num_env_runners=0)
            .learners(num_learners=0)
            .training(
                lr=ph["lr"],
                gamma=ph["gamma"],
                clip_param=ph["clip_param"],
                vf_clip_param=float(ph["vf_clip_param"]),
                train_batch_size_per_learner=min(int(ph["batch"]), cfg.pricing_timesteps),
                minibatch_size=int(ph["minibatch_size"]),
                num_epochs=int(ph["num_epochs"]),
            )
            .debugging(seed=cfg.seed)
        ).build_algo()
        done, t0 = 0, time.monotonic()
        while done < cfg.pricing_timesteps:  # a loop over training iterations
            r = algo.train()
            done = int(r["env_runners"]["num_env_steps_sampled_lifetime"])
            mlflow.log_metric(  # in currency: the env trains on rewards divided by its reward_scale
                "pricing.episode_return_mean",
                float(np.nan_to_num(r["env_runners"].get("episode_return_mean", 0.0)))
                * ResidualPricingEnv.reward_scale(pcfg),
                step=done,
            )
            log.info(
                "pricing PPO: %d/%d steps, %.0f steps/s", done, cfg.pricing_timesteps, done / (time.monotonic() - t0)
            )
        module_dir = ctx.run_dir / "pricing" / "policy"
        save_directory(algo.get_module().save_to_path, module_dir)
        module = algo.get_module()
        algo.stop()
    finally:
        ray.shutdown()
    est = None if scores is None else (np.asarray(scores[0]), np.asarray(scores[1]))

    def ppo(obs: np.ndarray, c: PricingEnvConfig, m: Any = module) -> float:
        return float(residual_multipliers(obs, act(m, obs[None], m.action_space)[:, 0], c)[0])

    policies = {**BASELINES, "ppo": ppo}
    seeds = [derived_seed(cfg.seed, "rl.pricing_eval", i) for i in range(cfg.pricing_eval_seeds)]
    rows = [{"policy": name, "seed": i, **run_episode(pcfg, pol, seed, est)}
            for name, pol in policies.items() for i, seed in enumerate(seeds)]
    df = pd.DataFrame(rows)
    table = pd.concat(
        {m: df.groupby("policy")[m].apply(t_interval).unstack()
         for m in ("reward", "revenue", "human_conversion", "leakage")},
        axis=1,
    )
    table.columns = [f"{m}_{k}" for m, k in table.columns]
    table = table.reset_index()
    out = ctx.run_dir / "pricing"
    write_table(table, out / "pricing_eval.csv")
    mlflow.log_artifact(str(out / "pricing_eval.csv"), "pricing")
    ppo = table.set_index("policy").loc["ppo"]
    verdict = pricing_verdict(df)
    mlflow.log_metrics({"pricing.ppo_revenue": float(ppo["revenue_mean"]),
                        "pricing.ppo_objective": float(ppo["reward_mean"]),
                        "pricing.fixed_revenue": float(table.set_index("policy").loc["fixed", "revenue_mean"]),
                        "pricing.ppo_vs_elasticity": verdict["diff"]})
    log.info("pricing PPO (%s): objective (revenue - %.1f x leakage) %.0f, %+.0f [%+.0f, %+.0f] a week against the "
             "elasticity rule on the same seeds: it %s it; revenue %.0f (fixed %.0f, elasticity %.0f)", variant,
             pcfg.leakage_weight, ppo["reward_mean"], verdict["diff"], verdict["diff_lo"], verdict["diff_hi"],
             verdict["verdict"], ppo["revenue_mean"], table.set_index("policy").loc["fixed", "revenue_mean"],
             table.set_index("policy").loc["elasticity", "revenue_mean"])
    return {**state, "pricing_module": str(module_dir), "pricing_variant": variant,
            "pricing_eval": table.to_dict(orient="records"), "pricing_verdict": verdict}


def pricing_verdict(df: pd.DataFrame) -> dict[str, Any]:
    """PPO against the elasticity rule on the env's objective (revenue - leakage_weight x leakage), paired over the
    evaluation seeds (the env's arrivals are common random numbers), with its 95% interval and what it says."""
    wide = df.pivot(index="seed", columns="policy", values="reward")
    gain = t_interval(wide["ppo"] - wide["elasticity"])
    return {"diff": float(gain["mean"]), "diff_lo": float(gain["lo"]), "diff_hi": float(gain["hi"]),
            "verdict": interval_says(gain)}
