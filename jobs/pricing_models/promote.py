"""evaluate_and_promote: the gate, then champion / challenger per model on the same holdout.

agent_classifier must pass the gate (holdout ROC-AUC and precision at the operating
threshold), or nothing at all is registered. Each model is then compared with its
champion re-scored on this run's holdout: agent_classifier by ROC-AUC, pricing_multitask
by purchase ROC-AUC, pricing_rules by expected revenue under the true demand (synthetic
data) or, without truth, by fidelity to this run's teacher. The three are promoted as one:
champions together if none is worse than its champion, else challengers together.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from jobs.pages.format import fmt
from jobs.pages.render import Page, Section, formatted, write
from jobs.paths import RunContext
from jobs.pricing_models.config import MODEL_NAMES, PricingConfig
from jobs.pricing_models.distill import TREE_FEATURES, teacher, tree_inputs
from jobs.pricing_models.sessions import load_sessions
from jobs.registry import Candidate, promote
from models.common.errors import GateError
from models.pricing.multitask import OFFER_FEATURES
from models.pricing.rules import evaluate_policy, grid
from models.pricing.session_features import FEATURES

log = logging.getLogger(__name__)


def _scores(kind: str, uri: str, h: pd.DataFrame, t: pd.DataFrame | None, cfg: PricingConfig,
            teacher_m: np.ndarray) -> float:
    import mlflow
    from sklearn.metrics import roc_auc_score

    model = mlflow.pyfunc.load_model(uri)
    if kind == "classifier":
        return float(roc_auc_score(h["label"], np.asarray(model.predict(h[FEATURES])).ravel()))
    if kind == "multitask":
        return float(roc_auc_score(h["purchased"], model.predict(h[FEATURES + OFFER_FEATURES])["p_purchase"]))
    m = np.asarray(model.predict(tree_inputs(h)[TREE_FEATURES])).astype(float).ravel()
    if t is None:
        return float(np.mean(np.isclose(m, teacher_m)))
    mult = grid(cfg.price_grid_min, cfg.price_grid_max, cfg.price_grid_steps)
    return evaluate_policy(m, h["list_price"].to_numpy(), t["alpha"].to_numpy(), t["beta"].to_numpy(),
                           t["is_agent"].to_numpy(), mult)["revenue_per_1000"]


def page(state: dict[str, Any], registered: dict[str, Any], run_dir: Any) -> Page:
    """The pricing run as a page: the agent classifier, the multi-task model, the pricing policies and the rules."""
    from pathlib import Path

    pricing = Path(state["pricing_path"])
    table = pd.read_csv(pricing / "pricing_policies.csv") if (pricing / "pricing_policies.csv").is_file() else None
    regs = ", ".join(f"{MODEL_NAMES[k]} v{r['version']}@{r['alias']}" for k, r in registered.items())
    findings = [
        f"Agent classifier: holdout ROC-AUC {fmt(state['classifier_auc'], 'ratio')}, precision "
        f"{fmt(state['classifier_precision'], 'pct')} at its threshold (gate passed).",
        f"Multi-task model: P(agent) AUC {fmt(state['multitask_agent_auc'], 'ratio')}, P(purchase | price) AUC "
        f"{fmt(state['purchase_auc'], 'ratio')} on the holdout sessions.",
        f"The depth-5 pricing rules agree with the multi-task policy on {fmt(state['tree_fidelity'], 'pct')} of "
        "sessions" + (f" and earn {fmt(state['tree_revenue'], 'money')} per 1,000 sessions."
                      if state.get("tree_revenue") is not None else "."),
        f"Registered together: {regs}.",
    ]
    if table is not None and {"policy", "revenue_per_1000"} <= set(table.columns):
        deployable = table[~table["key"].astype(str).str.contains("oracle")]  # the oracle knows the true demand
        best = deployable.sort_values("revenue_per_1000", ascending=False).iloc[0]
        fixed = table.set_index("key")["revenue_per_1000"].get("fixed")
        findings.insert(3, f"Best deployable pricing policy on the holdout: {best['policy']}, "
                           f"{fmt(best['revenue_per_1000'], 'money')} per 1,000 sessions"
                           + (f" against {fmt(fixed, 'money')} at the fixed list price." if fixed is not None else "."))
    sections = [
        Section("Agent classifier", "ROC and reliability on the holdout; what the classifier looks at (SHAP).",
                [run_dir / "classifier" / "roc_calibration.png", run_dir / "classifier" / "shap_importance.png"]),
        Section("Multi-task model", "Training and validation loss per epoch.",
                [run_dir / "multitask" / "learning_curves.png"]),
    ]
    if table is not None:
        kinds = {c: ("money" if "revenue" in c or "leakage" in c else "pct" if "conversion" in c else "number")
                 for c in table.columns if c not in ("policy", "key")}
        sections.append(Section("Pricing policies", "Revenue, human conversion and margin leaked to agents per "
                                "1,000 sessions.", [pricing / "pricing_policies.png"], formatted(table, kinds)))
    sections.append(Section("Pricing rules (depth-5 tree)", "What the registered pricing_rules model does.",
                            code=(pricing / "rules.txt").read_text()))
    return Page(title=f"Pricing models: {run_dir.name}", subtitle=f"Registered: {regs}.", findings=findings[:6],
                sections=sections, details={"Pricing policies": table} if table is not None else {})


def run(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Gate, score new and champion models on the same rows, register all three."""
    import mlflow

    if not state["classifier_gate"]:
        raise GateError(
            f"agent_classifier failed the gate: holdout ROC-AUC {state['classifier_auc']:.4f} "
            f"(needs >= {cfg.gate_auc}), "
            f"precision {state['classifier_precision']:.4f} (needs >= {cfg.gate_precision}); nothing registered"
        )
    h, t = load_sessions(state, split="holdout")
    mult = grid(cfg.price_grid_min, cfg.price_grid_max, cfg.price_grid_steps)
    teacher_m = teacher(mlflow.pyfunc.load_model(state["multitask_uri"]), h, mult, cfg.agent_uplift)[0]
    uris = {"classifier": state["classifier_uri"], "multitask": state["multitask_uri"], "rules": state["rules_uri"]}
    tags = {"source": cfg.source, "events.sha256": state.get("events_sha256", "")}
    candidates = [
        Candidate(MODEL_NAMES[kind], uri, _scores(kind, uri, h, t, cfg, teacher_m), tags,
                  lambda champ, kind=kind: _scores(kind, f"models:/{champ.name}/{champ.version}", h, t, cfg, teacher_m))
        for kind, uri in uris.items()
    ]
    # The three belong together (the rules are distilled from this run's multitask model, which is trained
    # on this run's classifier's sessions): they become champions together or challengers together.
    by_name = promote(candidates, ctx.run_id, joint=True)
    registered = {kind: by_name[MODEL_NAMES[kind]] for kind in uris}
    for kind, r in registered.items():
        champ = {} if r["champion_score"] is None else {f"{kind}.champion_score": r["champion_score"]}
        mlflow.log_metrics({f"{kind}.score": r["score"], **champ})
    mlflow.set_tags({f"registered.{MODEL_NAMES[k]}": f"v{r['version']}@{r['alias']}" for k, r in registered.items()})
    html = write(page(state, registered, ctx.run_dir), ctx.run_dir / "report" / "report.html")
    mlflow.log_artifact(str(html), "report")
    return {**state, "registered": registered, "report_html": str(html)}
