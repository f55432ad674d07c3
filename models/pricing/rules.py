"""Pricing policies, their evaluation against the true purchase model, and the distilled tree.

All prices are multiples of the offered product's list price. Under the ground truth a
session buys at price ``m * list`` with ``sigmoid(alpha + beta * log(m))``; a policy's
expected revenue is the sum of ``m * list * P_true(buy | m)``. Margin leakage is what
agents' purchases leave on the table: for each agent session, the expected revenue at
its own revenue-maximising grid price minus the expected revenue at the price it got.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def grid(lo: float, hi: float, steps: int) -> np.ndarray:
    return np.round(np.linspace(lo, hi, steps), 4)


def teacher_multipliers(p_buy: np.ndarray, p_agent: np.ndarray, multipliers: np.ndarray, uplift: float) -> np.ndarray:
    """argmax over the grid of m * P(buy | m) * (1 + uplift * P(agent)) per session.

    The factor (1 + uplift * P(agent)) does not move the argmax of a single session's
    objective; it weighs sessions when objectives are summed (e.g. by the distilled tree).
    """
    objective = multipliers[None, :] * p_buy * (1 + uplift * p_agent[:, None])
    return multipliers[np.argmax(objective, axis=1)]


def true_buy(alpha: np.ndarray, beta: np.ndarray, m: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(alpha + beta * np.log(m))))


def evaluate_policy(m: np.ndarray, list_price: np.ndarray, alpha: np.ndarray, beta: np.ndarray, is_agent: np.ndarray,
                    multipliers: np.ndarray) -> dict[str, float]:
    """Expected revenue, human conversion, agent margin leakage (per 1,000 sessions) of multipliers ``m``."""
    buy = true_buy(alpha, beta, m)
    revenue = m * list_price * buy
    best = (
        multipliers[None, :] * list_price[:, None] * true_buy(alpha[:, None], beta[:, None], multipliers[None, :])
    ).max(1)
    agent = is_agent.astype(bool)
    n = len(m)
    return {"revenue_per_1000": float(1000 * revenue.sum() / n),
            "human_conversion": float(buy[~agent].mean()) if (~agent).any() else float("nan"),
            "agent_conversion": float(buy[agent].mean()) if agent.any() else float("nan"),
            "margin_leakage_per_1000": float(1000 * (best[agent] - revenue[agent]).sum() / n),
            "mean_multiplier": float(m.mean())}


def fit_tree(X: pd.DataFrame, teacher: np.ndarray, depth: int, seed: int) -> object:
    """A depth-limited decision tree that imitates the teacher's multiplier (as classes)."""
    from sklearn.tree import DecisionTreeClassifier

    labels = np.round(teacher, 4).astype(str)
    return DecisionTreeClassifier(max_depth=depth, min_samples_leaf=20, random_state=seed).fit(X, labels)


def tree_multipliers(tree: object, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(tree.predict(X)).astype(float)  # type: ignore[attr-defined]


def rules_text(tree: object, features: list[str]) -> str:
    """Every leaf as one readable rule: IF lo < feature <= hi AND ... THEN price x m (n sessions, share agreeing).

    Repeated splits on one feature along a path are merged into a single interval, and a
    subtree whose leaves all give the same price becomes a single rule.
    """
    t = tree.tree_  # type: ignore[attr-defined]
    classes = tree.classes_  # type: ignore[attr-defined]
    lines: list[str] = []

    def render(bounds: dict[str, list[float]]) -> str:
        parts = []
        for name, (lo, hi) in bounds.items():
            if lo > -np.inf and hi < np.inf:
                parts.append(f"{lo:.3g} < {name} <= {hi:.3g}")
            elif lo > -np.inf:
                parts.append(f"{name} > {lo:.3g}")
            else:
                parts.append(f"{name} <= {hi:.3g}")
        return " AND ".join(parts) if parts else "always"

    def same_price(node: int) -> int | None:
        """The class every leaf under ``node`` predicts, or None if they differ."""
        if t.children_left[node] == -1:
            return int(np.argmax(t.value[node][0]))
        left, right = same_price(t.children_left[node]), same_price(t.children_right[node])
        return left if left is not None and left == right else None

    def walk(node: int, bounds: dict[str, list[float]]) -> None:
        uniform = same_price(node)
        if uniform is not None:
            counts = t.value[node][0]
            k = uniform
            lines.append(f"IF {render(bounds)} THEN price x {float(classes[k]):.2f}   "
                         f"({int(t.n_node_samples[node])} sessions, {100 * counts[k] / counts.sum():.0f}% agree)")
            return
        name, thr = features[t.feature[node]], float(t.threshold[node])
        lo, hi = bounds.get(name, [-np.inf, np.inf])
        walk(t.children_left[node], {**bounds, name: [lo, min(hi, thr)]})
        walk(t.children_right[node], {**bounds, name: [max(lo, thr), hi]})

    walk(0, {})
    return "\n".join(lines)
