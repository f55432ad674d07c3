"""insights: the analyst summary and the strategist recommendation, as Markdown in MLflow.

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
from typing import Any

import pandas as pd

from jobs.budget_bandits.config import BudgetConfig
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
    with atomic_path(out, is_dir=True) as tmp:
        (tmp / "insights.md").write_text(text)
        anomalies(facts).to_csv(tmp / "anomalies.csv", index=False)
    mlflow.log_artifacts(str(out), "insights")
    mlflow.set_tag("insights.backend", backend)
    log.info("insights (%s backend):\n%s", backend, text)
    return {**state, "insights_path": str(out / "insights.md"), "insights_backend": backend}
