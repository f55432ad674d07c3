"""Pricing policies under the true demand, the distilled tree's rules, the multi-task model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.pricing.agent_classifier import operating_threshold
from models.pricing.rules import (
    evaluate_policy,
    fit_tree,
    grid,
    rules_text,
    teacher_multipliers,
    tree_multipliers,
    true_buy,
)


def test_teacher_takes_the_grid_argmax() -> None:
    mult = grid(0.8, 1.5, 8)
    p_buy = np.array([[0.5, 0.45, 0.2, 0.1, 0.05, 0.01, 0.0, 0.0], [0.3] * 8])
    m = teacher_multipliers(p_buy, np.array([0.1, 0.9]), mult, 0.5)
    assert m[0] == pytest.approx(0.9) and m[1] == pytest.approx(1.5)


def test_oracle_prices_beat_every_policy_and_leak_nothing() -> None:
    rng = np.random.default_rng(0)
    n, mult = 2000, grid(0.8, 1.5, 15)
    alpha, beta = rng.normal(-1, 1, n), np.where(rng.random(n) < 0.3, -1.0, -4.0)
    agent, lp = (beta == -1.0).astype(int), rng.uniform(10, 100, n)
    oracle = mult[np.argmax(mult[None, :] * true_buy(alpha[:, None], beta[:, None], mult[None, :]), axis=1)]
    best = evaluate_policy(oracle, lp, alpha, beta, agent, mult)
    assert best["margin_leakage_per_1000"] == pytest.approx(0.0, abs=1e-9)
    for m in (np.ones(n), np.full(n, 1.3), np.where(agent == 1, 1.5, 0.8)):
        other = evaluate_policy(m, lp, alpha, beta, agent, mult)
        assert other["revenue_per_1000"] <= best["revenue_per_1000"] + 1e-9
        # Inelastic agents (beta = -1) pay most at the top of the grid: only charging them less leaks.
        assert (other["margin_leakage_per_1000"] > 0) == bool(np.any(m[agent == 1] < 1.5))
    fixed = evaluate_policy(np.ones(n), lp, alpha, beta, agent, mult)
    marked = evaluate_policy(np.where(agent == 1, 1.3, 1.0), lp, alpha, beta, agent, mult)
    assert marked["human_conversion"] == pytest.approx(fixed["human_conversion"])  # humans untouched
    assert marked["margin_leakage_per_1000"] < fixed["margin_leakage_per_1000"]


def test_tree_rules_are_readable_and_faithful() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"velocity": rng.uniform(0, 20, 3000), "cart_to_view": rng.uniform(0, 1, 3000)})
    teacher = np.where((X["velocity"] > 5) & (X["cart_to_view"] < 0.3), 1.3, 1.0)
    tree = fit_tree(X, teacher, 3, seed=0)
    assert np.mean(tree_multipliers(tree, X) == teacher) > 0.98
    text = rules_text(tree, list(X.columns))
    assert "THEN price x 1.30" in text and "THEN price x 1.00" in text
    assert all(line.count("velocity") <= 1 for line in text.splitlines())  # bounds merged per feature


def test_operating_threshold_meets_the_precision_target() -> None:
    from sklearn.metrics import precision_score

    rng = np.random.default_rng(2)
    y = rng.random(5000) < 0.3
    p = np.clip(y * 0.35 + rng.random(5000) * 0.65, 0, 1)
    thr = operating_threshold(y, p, 0.9)
    assert precision_score(y, p >= thr) >= 0.9


def purchase_curves(net: object, scaler: object, S: np.ndarray, list_price: np.ndarray, category: np.ndarray,
                    rating: np.ndarray, multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(agent) (n,) and P(purchase | list_price * m) for every grid multiplier m, shape (n, grid)."""
    from models.pricing.multitask import predict, product_matrix

    n, g = len(S), len(multipliers)
    price = (list_price[:, None] * multipliers[None, :]).ravel()
    P = product_matrix(price, np.repeat(list_price, g), np.repeat(category, g), np.repeat(rating, g))
    p_agent, p_buy = predict(net, scaler, np.repeat(S, g, axis=0), P)
    return p_agent.reshape(n, g)[:, 0], p_buy.reshape(n, g)


def test_multitask_learns_a_falling_demand_curve() -> None:
    from models.pricing.multitask import product_matrix, train
    from models.pricing.session_features import FEATURES
    from models.pricing.synth import ClickstreamSpec, generate
    from tests.session_features_pandas import session_features_pandas

    events, offers, truth = next(generate(ClickstreamSpec(n_sessions=3000, seed=9, chunk_sessions=3000)))
    f = session_features_pandas(events).merge(offers, on="sessionId")
    S = f[FEATURES].to_numpy(float)
    P = product_matrix(f["offer_price"].to_numpy(), f["list_price"].to_numpy(), f["category"].to_numpy(object),
                       f["rating"].to_numpy(float))
    label = (f["experimentId"] == "xp_agent_sandbox").astype(int).to_numpy()
    valid = np.random.default_rng(0).random(len(f)) < 0.2
    res = train(S, P, label, f["purchased"].to_numpy(), valid, epochs=15, batch=256, lr=2e-3, alpha=1, beta=2,
                patience=3, seed=0)
    assert res.history and res.best_epoch >= 1
    mult = grid(0.8, 1.5, 8)
    p_agent, p_buy = purchase_curves(res.net, res.scaler, S[:200], f["list_price"].to_numpy()[:200],
                                     f["category"].to_numpy(object)[:200], f["rating"].to_numpy(float)[:200], mult)
    assert np.all(np.diff(p_buy, axis=1) <= 1e-9)  # demand never rises with price
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(label[:200], p_agent) > 0.8


def test_multitask_numbers_do_not_depend_on_the_machines_threads() -> None:
    """torch splits reductions by thread count: a Celery worker and a laptop must still give the same losses."""
    import torch

    from models.pricing.multitask import train

    rng = np.random.default_rng(0)
    n = 2200
    S, P = rng.normal(size=(n, 29)), np.abs(rng.normal(1, 0.2, size=(n, 10))) + 0.1
    ya, yb, valid = rng.random(n) < 0.3, rng.random(n) < 0.2, rng.random(n) < 0.2
    before = torch.get_num_threads()
    runs = []
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            runs.append(train(S, P, ya, yb, valid, 5, 512, 1e-3, 1.0, 1.0, 3, 42).history)
            assert torch.get_num_threads() == threads  # the caller's setting is given back
    finally:
        torch.set_num_threads(before)
    assert runs[0] == runs[1]
