"""Off-policy estimators against synthetic logs where the true policy value is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.bandits.banner_synth import log_policy, make_banner_world, softmax_policy, uniform_policy
from models.bandits.ope import (
    BanditLog,
    action_frequencies,
    binomial_interval,
    bootstrap_frequencies,
    evaluate,
    replay_learning,
    reward_model,
)

WORLD = make_banner_world(3, 10, seed=4, base_ctr=0.05)
UNI = uniform_policy(3, 10)
PROD = softmax_policy(WORLD, 0.5, seed=5)


def test_estimators_recover_the_truth_on_a_large_log() -> None:
    log = log_policy(WORLD, UNI, 200_000, seed=1)
    rng = np.random.default_rng(0)
    est = evaluate(log, PROD, reward_model(log, 2, 100.0, rng), 300, rng).set_index("estimator")
    truth = WORLD.value(PROD)
    assert set(est.index) == {"replay", "ipw", "snipw", "dr"}
    for name, row in est.iterrows():
        assert abs(row["estimate"] - truth) < 4 * row["se"], name
        assert row["lo"] < row["estimate"] < row["hi"]
    assert est.loc["dr", "se"] <= est.loc["ipw", "se"] * 1.05  # the reward model must not add variance
    assert est.loc["replay", "ess"] == pytest.approx(200_000 / 10, rel=0.05)  # a uniform logger matches 1 in 10


def test_intervals_cover_the_truth_across_seeds() -> None:
    hits = []
    for s in range(40):
        log = log_policy(WORLD, PROD, 4000, seed=100 + s)
        rng = np.random.default_rng(s)
        est = evaluate(log, UNI, reward_model(log, 2, 100.0, rng), 200, rng).set_index("estimator")
        truth = WORLD.value(UNI)
        hits.append({k: est.loc[k, "lo"] <= truth <= est.loc[k, "hi"] for k in ("ipw", "snipw", "dr")})
    coverage = pd.DataFrame(hits).mean()
    assert (coverage >= 0.8).all(), coverage.to_dict()


def test_estimated_policy_is_resampled_with_the_log() -> None:
    bts_log = log_policy(WORLD, PROD, 300, seed=7)  # a short log: the policy's frequencies are uncertain
    freq = action_frequencies(bts_log)
    np.testing.assert_allclose(freq, PROD, atol=0.15)
    boot = bootstrap_frequencies(bts_log, 300, np.random.default_rng(1))
    assert boot.shape == (300, 3, 10)
    np.testing.assert_allclose(boot.sum(axis=2), 1.0)
    rnd = log_policy(WORLD, UNI, 200_000, seed=8)
    rng = np.random.default_rng(2)
    fixed = evaluate(rnd, freq, None, 300, rng).set_index("estimator")
    resampled = evaluate(rnd, freq, None, 300, rng, pi_boot=boot).set_index("estimator")
    assert fixed.loc["ipw", "estimate"] == resampled.loc["ipw", "estimate"]
    assert resampled.loc["ipw", "se"] > 1.5 * fixed.loc["ipw", "se"]  # the policy's own uncertainty widens the interval


def test_replay_interval_is_honest_with_no_clicks() -> None:
    out = binomial_interval(np.ones(120, dtype=bool), np.zeros(120))
    assert out["estimate"] == 0.0 and out["lo"] == 0.0 and 0.02 < out["hi"] < 0.04  # rule of three: ~3/120


def test_learning_replay_only_learns_from_matched_rows() -> None:
    log = log_policy(WORLD, UNI, 5000, seed=3)
    seen = []

    def choose(ctx, rng):
        return np.zeros(ctx.size, dtype=int)

    def update(ctx, act, rew):
        seen.append(act)

    matched, reward = replay_learning(log, choose, update, 100, np.random.default_rng(0))
    assert matched.sum() == (log.action == 0).sum()
    assert np.concatenate(seen).tolist() == [0] * int(matched.sum())


def test_bad_logs_are_refused() -> None:
    with pytest.raises(ValueError, match="propensities must be in"):
        BanditLog(np.zeros(3, int), np.zeros(3, int), np.zeros(3), np.array([0.5, 0.0, 0.5]), 1, 2)
    with pytest.raises(ValueError, match="policy must have shape"):
        evaluate(log_policy(WORLD, UNI, 100, 0), np.ones((2, 2)), None, 50, np.random.default_rng(0))


def _one_tiny_propensity() -> tuple[BanditLog, np.ndarray]:
    """A uniform log of 10,000 rows in which one unclicked row claims a logging propensity of 1e-6, and a target
    policy that always shows that row's creative: the row carries nearly all of the importance weight."""
    log = log_policy(WORLD, UNI, 10_000, seed=3)
    pscore = log.pscore.copy()
    reward = log.reward.copy()
    pscore[17], reward[17] = 1e-6, 0.0
    log = BanditLog(log.context, log.action, reward, pscore, log.n_contexts, log.n_actions)
    pi = np.zeros((3, 10))
    pi[:, log.action[17]] = 1.0
    return log, pi


def test_a_near_zero_propensity_is_flagged_and_no_rate_goes_negative() -> None:
    from jobs.banner_bandit_eval.evaluate import flag_low_ess

    log, pi = _one_tiny_propensity()
    rng = np.random.default_rng(0)
    est = evaluate(log, pi, reward_model(log, 2, 100.0, rng), 200, rng).set_index("estimator")
    assert est.loc["dr", "ess"] < 2  # one row carries the weight
    # Unbounded, DR here is far below zero (the one row's correction: 0 - q times a weight of ~1e5).
    assert (est[["estimate", "lo", "hi"]] >= 0).all().all() and (est[["estimate", "lo", "hi"]] <= 1).all().all()
    assert "bounded to [0, 1] (raw -" in est.loc["dr", "note"]
    flagged = flag_low_ess(est.reset_index(), 100).set_index("estimator")
    assert flagged.loc[["ipw", "snipw", "dr"], "low_ess"].all() and not flagged.loc["replay", "low_ess"]
    assert "ESS" in flagged.loc["dr", "note"] and "bounded" in flagged.loc["dr", "note"]
    # Capping the weights takes the one row's weight down to the cap: a usable ESS, and the note says so.
    capped = evaluate(log, pi, reward_model(log, 2, 100.0, rng), 200, rng, clip=20.0).set_index("estimator")
    assert capped.loc["dr", "ess"] > 100 and "weights capped at 20" in capped.loc["dr", "note"]


def test_the_dr_spread_over_splits_is_small_on_a_healthy_log_and_large_on_a_degenerate_one() -> None:
    from models.bandits.ope import dr_split_spread

    healthy = log_policy(WORLD, UNI, 20_000, seed=8)
    spread = dr_split_spread(healthy, PROD, 2, 100.0, 5, np.random.default_rng(1))
    assert 0 < spread < 0.002
    log, pi = _one_tiny_propensity()
    assert dr_split_spread(log, pi, 2, 100.0, 5, np.random.default_rng(1)) > 10 * spread


def test_a_contextual_reward_model_makes_dr_better_where_the_context_explains_clicks() -> None:
    """Segments with their own taste drive most of the clicks: DR with a model of the user's context beats DR on a
    position x creative table, and IPW, over seeds; without context columns the contextual kind is the table."""
    world = make_banner_world(3, 20, seed=1, base_ctr=0.2, segments=4, segment_spread=1.5)
    prod, uni = softmax_policy(world, 0.5, seed=2), uniform_policy(3, 20)
    truth = world.value(prod)
    err: dict[str, list[float]] = {"table": [], "contextual": [], "ipw": []}
    for s in range(6):
        log = log_policy(world, uni, 20_000, seed=100 + s)
        assert log.features.shape == (20_000, 4) and log.affinity.shape == (20_000, 20)
        se = {}
        for kind in ("table", "contextual"):
            rng = np.random.default_rng(s)
            est = evaluate(log, prod, reward_model(log, 2, 200.0, rng, kind), 200, rng).set_index("estimator")
            err[kind].append(est.loc["dr", "estimate"] - truth)
            se[kind] = est.loc["dr", "se"]
        err["ipw"].append(est.loc["ipw", "estimate"] - truth)
        assert se["contextual"] < 0.9 * se["table"], se
    rmse = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in err.items()}
    assert rmse["contextual"] < 0.7 * rmse["table"] and rmse["contextual"] < 0.7 * rmse["ipw"], rmse
    plain = log_policy(WORLD, UNI, 5000, seed=3)
    assert not plain.has_context
    np.testing.assert_array_equal(reward_model(plain, 2, 100.0, np.random.default_rng(0), "contextual"),
                                  reward_model(plain, 2, 100.0, np.random.default_rng(0), "table"))
    with pytest.raises(ValueError, match="reward model must be one of"):
        reward_model(plain, 2, 100.0, np.random.default_rng(0), "forest")
    with pytest.raises(ValueError, match="affinity must be"):
        BanditLog(log.context, log.action, log.reward, log.pscore, 3, 20, None, log.affinity[:, :5])
