"""distill: the teacher's prices, a depth-5 tree that imitates them, and every pricing policy's outcome.

Teacher: the multi-task model's argmax over the price grid of
m * P(buy | m) * (1 + lambda * P(agent)). Policies compared on the holdout under the true
purchase model (synthetic data): fixed list price, the legacy velocity rule, the
P(agent) > threshold markup rule (agent_classifier), the teacher, the distilled tree,
and the oracle that knows each session's true demand.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.paths import RunContext, atomic_path
from jobs.plots import pyplot, save_png
from jobs.pricing_models.config import PricingConfig
from jobs.pricing_models.sessions import gather, load_sessions, split_mask
from models.common.streams import stream
from models.pricing.multitask import OFFER_FEATURES
from models.pricing.rules import (
    evaluate_policy,
    fit_tree,
    grid,
    rules_text,
    teacher_multipliers,
    tree_multipliers,
    true_buy,
)
from models.pricing.session_features import FEATURES

log = logging.getLogger(__name__)
TREE_FEATURES = FEATURES + ["log_list_price"]


def tree_inputs(df: pd.DataFrame) -> pd.DataFrame:
    return df[FEATURES].assign(log_list_price=np.log(df["list_price"].to_numpy(float)))


def teacher(model: Any, df: pd.DataFrame, mult: np.ndarray, uplift: float,
            batch_sessions: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """(teacher multipliers, P(agent)) from the multi-task pyfunc scored on every grid price, ``batch_sessions``
    sessions (x the grid) at a time so the scored rows stay small whatever the number of sessions."""
    g = len(mult)
    out_m, out_a = [], []
    for i in range(0, len(df), batch_sessions):
        part = df.iloc[i:i + batch_sessions]
        rows = part.loc[part.index.repeat(g), FEATURES + OFFER_FEATURES].reset_index(drop=True)
        rows["offer_price"] = rows["list_price"].to_numpy() * np.tile(mult, len(part))
        out = model.predict(rows)
        p_buy = out["p_purchase"].to_numpy().reshape(len(part), g)
        p_agent = out["p_agent"].to_numpy().reshape(len(part), g)[:, 0]
        out_m.append(teacher_multipliers(p_buy, p_agent, mult, uplift))
        out_a.append(p_agent)
    return (np.concatenate(out_m), np.concatenate(out_a)) if out_m else (np.empty(0), np.empty(0))


def tree_sample(state: dict[str, Any], cfg: PricingConfig) -> pd.DataFrame:
    """The training sessions the tree learns from: all of them, or a seeded sample of ``tree_fit_rows`` (a
    depth-5 tree gains nothing from millions of rows, and the teacher scores each on the whole grid)."""
    path = state["features_path"]
    train = split_mask(path, "train")
    share = min(1.0, cfg.tree_fit_rows / max(int(train.sum()), 1))
    keep = train & (stream(cfg.seed, "pricing.tree_sample").random(len(train)) < share) if share < 1 else train
    return gather(path, keep, FEATURES + OFFER_FEATURES)


def policies_png(table: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(13, 4))
    for a, col, title in zip(
        ax,
        ("revenue_per_1000", "human_conversion", "margin_leakage_per_1000"),
        ("expected revenue per 1,000 sessions", "human conversion", "agent margin leakage per 1,000"),
    ):
        a.barh(table["policy"], table[col], color="#3b6ea5")
        a.set_title(title, fontsize=10)
    save_png(fig, path, dpi=110)
    return path


def run(cfg: PricingConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Fit the tree on train sessions' teacher prices; fidelity, revenue gap and the policy table on the holdout."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mult = grid(cfg.price_grid_min, cfg.price_grid_max, cfg.price_grid_steps)
    model = mlflow.pyfunc.load_model(state["multitask_uri"])
    fit_rows = tree_sample(state, cfg)
    tree = fit_tree(tree_inputs(fit_rows), teacher(model, fit_rows, mult, cfg.agent_uplift)[0], cfg.tree_depth,
                    cfg.seed)
    n_fit = len(fit_rows)
    del fit_rows
    h, t = load_sessions(state, split="holdout")
    m_hold = teacher(model, h, mult, cfg.agent_uplift)[0]
    X_hold = tree_inputs(h)
    m_tree = tree_multipliers(tree, X_hold)
    step = mult[1] - mult[0]
    metrics = {"tree_fidelity": float(np.mean(np.isclose(m_tree, m_hold))),
               "tree_fidelity_within_one_step": float(np.mean(np.abs(m_tree - m_hold) <= step + 1e-9)),
               "tree_fit_sessions": float(n_fit)}
    rules = rules_text(tree, TREE_FEATURES)
    table = None
    if t is not None:
        lp, a, b, agent = (
            h["list_price"].to_numpy(),
            t["alpha"].to_numpy(),
            t["beta"].to_numpy(),
            t["is_agent"].to_numpy(),
        )
        p_xgb = (
            pd.read_parquet(state["classifier_predictions"])
            .set_index("sessionId")
            .loc[h["sessionId"], "p_agent"]
            .to_numpy()
        )
        oracle = mult[np.argmax(mult[None, :] * true_buy(a[:, None], b[:, None], mult[None, :]), axis=1)]
        policies = {  # key: (label, multipliers)
            "fixed": ("fixed list price", np.ones(len(h))),
            "velocity_rule": (
                f"velocity > {cfg.velocity_threshold:g}/min -> x{cfg.markup}",
                np.where(h["velocity"] > cfg.velocity_threshold, cfg.markup, 1.0),
            ),
            "agent_rule": (
                f"P(agent) > {cfg.markup_threshold} -> x{cfg.markup}",
                np.where(p_xgb > cfg.markup_threshold, cfg.markup, 1.0),
            ),
            "teacher": ("multi-task teacher", m_hold),
            "tree": (f"distilled tree (depth {cfg.tree_depth})", m_tree),
            "oracle": ("oracle (true demand)", oracle),
        }
        table = pd.DataFrame([{"key": k, "policy": label, **evaluate_policy(m, lp, a, b, agent, mult)}
                              for k, (label, m) in policies.items()])
        rev = table.set_index("key")["revenue_per_1000"]
        metrics["tree_revenue_gap_pct"] = float(100 * (rev["teacher"] - rev["tree"]) / rev["teacher"])
        metrics["teacher_revenue_uplift_pct"] = float(100 * (rev["teacher"] / rev["fixed"] - 1))
        metrics["tree_revenue_per_1000"] = float(rev["tree"])
        for r in table.itertuples():
            mlflow.log_metrics({f"policy.{r.key}.revenue_per_1000": r.revenue_per_1000,
                                f"policy.{r.key}.human_conversion": r.human_conversion,
                                f"policy.{r.key}.margin_leakage_per_1000": r.margin_leakage_per_1000})
    else:
        log.info("no ground truth (source=%s): the pricing policies are not evaluated in money", cfg.source)
    mlflow.log_metrics(metrics)
    out = ctx.run_dir / "pricing"
    with atomic_path(out, is_dir=True) as tmp:
        (tmp / "rules.txt").write_text(rules + "\n")
        if table is not None:
            table.to_csv(tmp / "pricing_policies.csv", index=False, float_format="%.6g")
            policies_png(table, tmp / "pricing_policies.png")
    mlflow.log_artifacts(str(out), "pricing")
    info = mlflow.sklearn.log_model(tree, name="pricing_rules", input_example=X_hold.head(5),
                                    skops_trusted_types=["sklearn.tree._tree.Tree"],
                                    signature=infer_signature(X_hold.head(100), m_tree[:100].astype(str)))
    log.info(
        "distill: %s\nrules:\n%s%s",
        metrics,
        rules,
        "" if table is None else "\n" + table.round(4).to_string(index=False),
    )
    return {**state, "rules_uri": info.model_uri, "tree_fidelity": metrics["tree_fidelity"],
            "tree_revenue": metrics.get("tree_revenue_per_1000"), "pricing_path": str(out)}
