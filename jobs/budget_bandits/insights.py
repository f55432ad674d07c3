"""insights: the analyst summary and the strategist recommendation, as Markdown and as the run's report page
(jobs/pages: the plan, its posteriors, the simulated regret against the baselines) in MLflow.

The text is built from the numbers (models.bandits.insights). With
``insights_backend=llm`` an OpenAI-compatible endpoint (``LLM_API_BASE``, ``LLM_API_KEY``)
rewrites it for a human reader; without credentials, or when the call fails, the template
text stands and a log line says why, so the run never depends on a remote service.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.budget_bandits.config import BudgetConfig
from jobs.pages.format import fmt, row_interval
from jobs.pages.render import Page, Section, formatted, render
from jobs.paths import RunContext, atomic_path
from models.bandits.insights import analyst_summary, anomalies, strategist_recommendation

log = logging.getLogger(__name__)


def llm_rewrite(text: str, model: str, timeout_s: float = 30.0) -> str | None:
    """Ask an OpenAI-compatible chat endpoint to rewrite ``text``; None when not configured or failing."""
    base, key = os.environ.get("LLM_API_BASE"), os.environ.get("LLM_API_KEY")
    if not base or not key:
        log.info("insights_backend=llm but LLM_API_BASE / LLM_API_KEY are not set: keeping the template text")
        return None
    body = json.dumps({"model": model, "temperature": 0, "messages": [
        {"role": "system", "content": "Rewrite this marketing budget report for a marketing lead. Keep every number "
                                      "exactly as given; do not add facts."},
        {"role": "user", "content": text}]}).encode()
    req = urllib.request.Request(f"{base.rstrip('/')}/chat/completions", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return str(json.loads(resp.read())["choices"][0]["message"]["content"])
    except (OSError, KeyError, ValueError) as exc:
        log.warning("LLM endpoint %s failed (%s): keeping the template text", base, exc)
        return None


def page(state: dict[str, Any], plan: pd.DataFrame, sim: pd.DataFrame, analyst: str, strategist: str,
         anomaly_count: int) -> Page:
    """The plan and insights as a page: what to move, what it is expected to buy, why Thompson sampling."""
    gain = state["uplift"]
    moves = plan.assign(change=plan["share"] - plan["prev_share"]).sort_values("change")
    up, down = moves.iloc[-1], moves.iloc[0]
    # Regret as a fraction of the oracle's conversions, so it prints as a percentage with its interval.
    sim = sim.assign(**{c: sim[c] / 100 for c in ("regret_pct", "regret_pct_lo", "regret_pct_hi")})
    ranked = sim.sort_values("regret_pct")
    ts = sim.set_index("policy").loc["thompson"] if "thompson" in set(sim["policy"]) else ranked.iloc[0]
    findings = [
        f"Plan for {state['plan_day']}: expected conversions change by {fmt(gain[0], 'number')} "
        f"(90% interval {fmt(gain[1], 'number')} to {fmt(gain[2], 'number')}) against yesterday's split.",
        f"Largest increase: {up['segment_key']}, {fmt(up['prev_share'], 'pct')} -> {fmt(up['share'], 'pct')} of "
        f"budget ({fmt(up['conv_per_100'], 'ratio')} conversions per 100 spent); largest decrease: "
        f"{down['segment_key']}, {fmt(down['prev_share'], 'pct')} -> {fmt(down['share'], 'pct')}.",
        f"Simulated over {int(ts['seeds'])} seeds, Thompson sampling loses {row_interval(ts, 'regret_pct', 'pct')} "
        f"of the oracle's conversions; best policy here: {ranked.iloc[0]['policy']} "
        f"({row_interval(ranked.iloc[0], 'regret_pct', 'pct')}).",
        analyst.splitlines()[0],
        f"{anomaly_count} anomal{'y' if anomaly_count == 1 else 'ies'} in the last 7 days (binomial p < 0.001 or CPC "
        "> 1.5x the trailing median).",
    ]
    plan_view = formatted(plan[["segment_key", "prev_share", "share", "conv_per_100", "conv_per_100_lo",
                                "conv_per_100_hi", "p_best"]],
                          {"prev_share": "pct", "share": "pct", "p_best": "ratio"}, {"conv_per_100": "ratio"},
                          {"prev_share": "share yesterday", "share": "share planned",
                           "conv_per_100": "conversions per 100 (90%)", "p_best": "P(best)"})
    sim_view = formatted(sim[["policy", "seeds", "regret_pct", "regret_pct_lo", "regret_pct_hi", "cost_per_conv",
                              "cost_per_conv_lo", "cost_per_conv_hi"]], {"seeds": "count"},
                         {"regret_pct": "pct", "cost_per_conv": "money"},
                         {"regret_pct": "regret, share of the oracle (95%)", "cost_per_conv": "cost per conversion"})
    plan_dir, sim_dir = Path(state["plan_path"]), Path(state["simulation_path"])
    return Page(
        title=f"Budget allocation: plan for {state['plan_day']}",
        subtitle="Thompson sampling over segments with pacing; intervals 90% for the plan, 95% over seeds for the "
                 "simulation.",
        findings=findings,
        sections=[Section("The plan", strategist.splitlines()[0], [plan_dir / "posteriors.png"], plan_view),
                  Section("Why this policy: simulated regret", "", [sim_dir / "regret.png", sim_dir / "allocation.png"],
                          sim_view),
                  Section("Analyst summary", " ".join(analyst.splitlines()))],
        details={"Plan": plan, "Simulation": sim},
    )


def run(cfg: BudgetConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Write insights.md (and anomalies.csv) from the facts, the plan and the simulation."""
    import mlflow

    facts = pd.read_parquet(state["facts_path"])
    plan = pd.read_parquet(f"{state['plan_path']}/plan.parquet")
    sim = pd.read_csv(f"{state['simulation_path']}/regret_summary.csv")
    analyst = analyst_summary(facts)
    strategist = strategist_recommendation(plan, tuple(state["uplift"]), sim)
    text = (f"# Budget insights for {state['plan_day']}\n\n## Analyst summary\n\n{analyst}\n\n"
            f"## Strategist recommendation\n\n{strategist}\n")
    backend = "template"
    if cfg.insights_backend == "llm" and (rewritten := llm_rewrite(text, cfg.llm_model)):
        text, backend = rewritten + "\n\n---\n\n" + text, "llm"
    out = ctx.run_dir / "insights"
    found = anomalies(facts)
    with atomic_path(out, is_dir=True) as tmp:
        (tmp / "insights.md").write_text(text)
        found.to_csv(tmp / "anomalies.csv", index=False)
        (tmp / "report.html").write_text(render(page(state, plan, sim, analyst, strategist, len(found))))
    mlflow.log_artifacts(str(out), "insights")
    mlflow.set_tag("insights.backend", backend)
    log.info("insights (%s backend):\n%s", backend, text)
    return {**state, "insights_path": str(out / "insights.md"), "insights_backend": backend}
