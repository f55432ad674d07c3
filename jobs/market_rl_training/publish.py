"""register / report: the learned policies into the registry (champion / challenger), and the run's summary as
Markdown and as a report page (jobs/pages: verdicts first, learning curves, learned vs scripted, pricing)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.market.policy_models import OBS_COLUMNS, PRICING_COLUMNS, log_policy
from jobs.market_rl_training.config import RlConfig
from jobs.market_rl_training.train import COMPARABLE_SPEND, OUT_EARNS, exploitability
from jobs.pages.format import fmt, interval, row_interval
from jobs.pages.render import Page, Section, formatted, write
from jobs.paths import RunContext, atomic_path
from jobs.plots import pyplot, save_png
from jobs.registry import register
from models.market.envs import ACTION_INTERFACE
from models.market.pricing_env import PRICING_INTERFACE

log = logging.getLogger(__name__)


def run_register(cfg: RlConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """``bidder_<agent>`` scored by its profit (revenue - spend) per verdict seed, the measure its verdict and
    the pick of its best module use; ``pricing_policy`` by its evaluation objective."""
    rng = np.random.default_rng(cfg.seed)
    # float64 in the signature: callers pass plain floats; the policy casts to float32 itself.
    obs_example = pd.DataFrame(rng.uniform(0, 1, (3, len(OBS_COLUMNS))), columns=OBS_COLUMNS)
    registered = {}
    for row in state["bidder_eval"]:
        agent = row["agent"]
        uri = log_policy("bidder", f"bidder_{agent}", state["policies"][agent]["module"], obs_example)
        profit = row["learned_revenue"] - row["learned_spend"]
        # A champion trained on another action interface was scored in another game: not compared with.
        registered[f"bidder_{agent}"] = register(uri, f"bidder_{agent}", profit, {"action_interface": ACTION_INTERFACE},
                                                 ctx.run_id, metric=f"profit ({ACTION_INTERFACE})")
    price_example = pd.DataFrame([[1.0, 0.8, 0.5, 0.7, 0.5]], columns=PRICING_COLUMNS, dtype=np.float64)
    ppo = next(r for r in state["pricing_eval"] if r["policy"] == "ppo")
    uri = log_policy("pricing", "pricing_policy", state["pricing_module"], price_example)
    # Scored by the env's objective (revenue - 0.5 x leakage), what its verdict judges; a champion of another
    # action interface (a price, not a residual on the elasticity rule) is replaced, not compared with.
    registered["pricing_policy"] = register(uri, "pricing_policy", float(ppo["reward_mean"]),
                                            {"action_interface": PRICING_INTERFACE}, ctx.run_id,
                                            metric=f"objective ({PRICING_INTERFACE})")
    return {**state, "registered": {k: {"version": v["version"], "alias": v["alias"]} for k, v in registered.items()}}


def verdicts_png(bid: pd.DataFrame, path: Path) -> Path:
    """Learned minus scripted profit per bidder with its paired 95% interval, and the share of the script's spend."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 0.6 * len(bid) + 1.8), sharey=True)
    y = np.arange(len(bid))[::-1]
    err = [bid["profit_diff"] - bid["profit_diff_lo"], bid["profit_diff_hi"] - bid["profit_diff"]]
    ax.errorbar(bid["profit_diff"], y, xerr=err, fmt="o", capsize=3)
    ax.axvline(0, color="grey", ls=":")
    ax.set_yticks(y, [f"{a} ({al})" for a, al in zip(bid["agent"], bid["algorithm"])])
    ax.set(xlabel="learned - scripted profit per run (paired over seeds, 95%)", title="Profit against the script")
    bx.barh(y, bid["spend_share"], color="#3b6ea5")
    bx.axvline(COMPARABLE_SPEND, color="grey", ls=":")
    bx.set(xlabel="learned spend / scripted spend", title=f"Budget use (dotted: {COMPARABLE_SPEND:.0%})")
    return save_png(fig, path, dpi=100)


def page(state: dict[str, Any], bid: pd.DataFrame, price: pd.DataFrame, pngs: list[Path], run_id: str,
         seeds: int, spend_floor: float) -> Page:
    """Verdicts first: each learned bidder against its script (ROAS and spend), the pricing PPO against the best
    baseline. ``spend_floor``: the share of its script's spend every learner trained to deliver."""
    findings = []
    for r in bid.itertuples():
        # The spend that qualifies "out-earns" closes the sentence, so the verb alone comes first.
        verb = "out-earns" if r.verdict == OUT_EARNS else r.verdict
        below = f" (a win needs {COMPARABLE_SPEND:.0%})" if r.verdict == OUT_EARNS else ""
        findings.append(f"{r.agent} ({r.algorithm}) {verb} its script: profit "
                        f"{interval(r.profit_diff, r.profit_diff_lo, r.profit_diff_hi, 'money')} per run against it "
                        f"(paired over {seeds} seeds), "
                        + (f"on {fmt(r.spend_share, 'pct')} of its spend{below}." if np.isfinite(r.spend_share)
                           else "and the script spent nothing."))
    league = pd.DataFrame(state.get("league") or [])
    if len(league):
        totals = exploitability(league)
        trend = "" if len(totals) < 2 else (" (shrinking: closer to a mutual best response)"
                                            if totals.iloc[-1] < totals.iloc[0] else " (not shrinking)")
        findings.append("League: re-training each family against the other learners' policies found "
                        + ", then ".join(fmt(v, "money") for v in totals)
                        + f" a week of profit to gain in {len(totals)} round(s){trend}.")
    pv = state["pricing_verdict"]
    ppo = price.set_index("policy").loc["ppo"]
    findings.append(f"Pricing PPO (a residual on the elasticity rule) {pv['verdict']} the rule: objective "
                    f"{interval(pv['diff'], pv['diff_lo'], pv['diff_hi'], 'money')} per week against it (paired over "
                    f"the seeds); revenue {row_interval(ppo, 'revenue', 'money')}.")
    bid_view = formatted(bid[["agent", "algorithm", "verdict", "profit_diff", "profit_diff_lo", "profit_diff_hi",
                              "spend_share", "learned_roas", "scripted_roas", "roas_diff", "roas_diff_lo",
                              "roas_diff_hi"]],
                         {"learned_roas": "ratio", "scripted_roas": "ratio", "spend_share": "pct"},
                         {"profit_diff": "money", "roas_diff": "ratio"},
                         {"profit_diff": "profit vs script (95%)", "spend_share": "share of the script's spend",
                          "learned_roas": "learned ROAS", "scripted_roas": "scripted ROAS",
                          "roas_diff": "ROAS difference (95%)"})
    price_view = formatted(price[["policy", "reward_mean", "reward_lo", "reward_hi", "revenue_mean", "revenue_lo",
                                  "revenue_hi", "human_conversion_mean", "leakage_mean"]]
                           .rename(columns={"reward_mean": "reward", "revenue_mean": "revenue"}),
                           {"human_conversion_mean": "rate", "leakage_mean": "money"},
                           {"reward": "money", "revenue": "money"},
                           {"reward": "objective (95%)", "human_conversion_mean": "human conversion",
                            "leakage_mean": "leakage"})
    return Page(
        title=f"Learned bidders and pricing: {run_id}",
        subtitle=f"{fmt(state['env_steps_per_s'], 'count')} env steps per second in training; pricing "
                 f"({state['pricing_variant']}). Registered: "
                 + ", ".join(f"{k} v{v['version']}@{v['alias']}" for k, v in state["registered"].items()) + ".",
        findings=findings[:6],
        sections=[Section("Verdicts", "Profit (revenue - spend) against the script on the same seeds and daily "
                          "budget, seeds disjoint from those that chose the checkpoint; a bidder beats its script "
                          f"only with the profit interval above zero at {COMPARABLE_SPEND:.0%} or more of its spend.",
                          [pngs[0]], bid_view),
                  Section("Learning curves", "Mean episode return per training iteration; dotted lines mark the "
                          "next curriculum stage; the league rounds' iterations follow the curriculum's. Every "
                          f"learner trains to deliver {spend_floor:.0%} of its script's spend: its reward values a "
                          "unit of spend at a multiplier that rises while it delivers less (dual ascent).",
                          [p for p in pngs[1:] if p.name != "league.png"]),
                  *([Section("League rounds", "After the curriculum each family in turn re-trains against every "
                             "other learner's current policy, frozen. Gain: the paired profit difference on the "
                             "selection seeds before and after, against those same policies (an exploitability "
                             "proxy); a re-trained policy is kept only if it ranks higher there (one that delivers "
                             "its share of the script's spend over one that does not, then profit) and no lower "
                             "against the scripted market, where the verdict judges it.",
                             [p for p in pngs if p.name == "league.png"],
                             formatted(league[["round", "agent", "family", "opponents", "profit_before",
                                               "profit_after", "gain", "gain_lo", "gain_hi", "spend_share_before",
                                               "spend_share_after", "profit_against_scripts_before",
                                               "profit_against_scripts_after", "kept"]],
                                       {"profit_before": "money", "profit_after": "money",
                                        "spend_share_before": "pct", "spend_share_after": "pct",
                                        "profit_against_scripts_before": "money",
                                        "profit_against_scripts_after": "money"}, {"gain": "money"},
                                       {"profit_before": "profit before", "profit_after": "profit after",
                                        "gain": "gain (95%)", "spend_share_before": "spend before",
                                        "spend_share_after": "spend after",
                                        "profit_against_scripts_before": "vs scripts before",
                                        "profit_against_scripts_after": "vs scripts after"}))] if len(league) else []),
                  Section("Dynamic pricing", "", [], price_view)],
        details={"Bidders": bid, "Pricing": price, **({"League": league} if len(league) else {})},
    )


def run_report(cfg: RlConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """report.md: time per curriculum stage, learned vs scripted with intervals (and the verdict), pricing."""
    import mlflow

    bid = pd.DataFrame(state["bidder_eval"])
    price = pd.DataFrame(state["pricing_eval"])
    lines = [
        f"# Learned bidders and pricing, run {ctx.run_id}",
        "",
        f"Env steps per second during training: {state['env_steps_per_s']}. "
        f"Wall time per curriculum stage (s): {state['stage_seconds']}.",
        "",
        "## Learned bidders vs the scripted strategies they replace (same seeds, same daily budget; verdict on "
        f"profit at >= {COMPARABLE_SPEND:.0%} of the script's spend)",
        "",
        bid.to_markdown(index=False, floatfmt=".3f"),
        "",
        "Each family first learns against the scripted rest of the market, then in league rounds against the "
        "other learners' policies (gain: paired profit on the selection seeds after minus before re-training):",
        "",
        pd.DataFrame(state.get("league") or []).to_markdown(index=False, floatfmt=".1f")
        if state.get("league") else "(no league rounds)",
        "",
        f"## Pricing PPO ({state['pricing_variant']}) vs baselines",
        "",
        "The PPO acts as a residual on the elasticity rule; against it on the objective (revenue - 0.5 x leakage), "
        "paired over the seeds: {diff:+,.0f} [{diff_lo:+,.0f}, {diff_hi:+,.0f}] a week: it {verdict} the rule."
        .format(**state["pricing_verdict"]),
        "",
        price.to_markdown(index=False, floatfmt=",.3f"),
        "",
        "Registered: " + ", ".join(f"{k} v{v['version']}@{v['alias']}" for k, v in state["registered"].items()),
    ]
    path = ctx.run_dir / "report" / "report.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    pngs = [verdicts_png(bid, ctx.run_dir / "report" / "verdicts.png"),
            *[p for p in [Path(state["bidders_dir"]) / n for n in ("learning_curves.png", "delivery.png", "league.png")]
              if p.is_file()]]
    seeds = len(cfg.eval_seed_list("verdict"))
    html = write(page(state, bid, price, pngs, ctx.run_id, seeds, cfg.spend_floor),
                 ctx.run_dir / "report" / "report.html")
    for p in (path, html, pngs[0]):
        mlflow.log_artifact(str(p), "report")
    return {**state, "report_path": str(path), "report_html": str(html)}
