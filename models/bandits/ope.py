"""Off-policy evaluation of banner policies from logged bandit feedback: replay, IPW, SNIPW, DM, DR.

A log row i has a context x_i (here the slot position), the logged action a_i, its
reward r_i (click) and the logging propensity p_i. A target policy is a matrix
pi[x, a] of action probabilities per context (the policies evaluated here choose by
position only). With w_i = pi[x_i, a_i] / p_i:

- IPW   = mean(w_i r_i)                      (unbiased when p_i are right)
- SNIPW = sum(w_i r_i) / sum(w_i)            (self-normalised: less variance, small bias)
- DM    = mean(sum_a pi[x_i, a] q(x_i, a))   (a reward model q; biased if q is wrong)
- DR    = DM + mean(w_i (r_i - q(x_i, a_i))) (unbiased if p_i or q is right)
- replay: rows where the policy, sampled, picks the logged action; their mean reward
  (Li et al. 2011; needs a uniform logger to be unbiased).

Replay's matched rows are i.i.d. draws of the policy's reward, so its interval is the
exact (Clopper-Pearson) binomial one, which stays honest when no matched row clicked;
the other intervals are percentile bootstraps over log rows; one set of resampled rows serves all
estimators, and a policy that is itself estimated (e.g. BTS's action frequencies) can be
resampled alongside (``pi_boot``). The reward model is cross-fitted once and held fixed; how far DR moves
with another split is reported apart (``dr_split_spread``). It is either a table of (position, item)
click rates or, where the log carries the user's context (features, a per-item affinity score as the
Open Bandit Dataset does), a logistic model of the click on position, item, the user's features and
the user's affinity to the item, so DR's correction term works on what the context leaves unexplained.

Degenerate weights are shown, not hidden: every estimate carries the effective sample size of its weights
(sum(w)^2 / sum(w^2): a log of 10,000 rows in which one propensity of 1e-6 carries the weight has an ESS
near 1), weights can be capped (``clip``), and an estimate outside the reward's range is moved to its edge
with its raw value in the note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

ESTIMATORS = ("replay", "ipw", "snipw", "dr")
REWARD_MODELS = ("table", "contextual")


@dataclass(frozen=True)
class BanditLog:
    """Logged bandit feedback in time order; contexts and actions are 0-based integer codes."""

    context: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    n_contexts: int
    n_actions: int
    features: np.ndarray | None = None  # (n, d) the user's context per row, e.g. one-hot user features
    affinity: np.ndarray | None = None  # (n, actions) a score of the row's user for every action

    def __post_init__(self) -> None:
        n = self.reward.size
        if not (self.context.size == self.action.size == self.pscore.size == n) or n == 0:
            raise ValueError("context, action, reward and pscore must be non-empty and of equal length")
        if np.any(self.pscore <= 0) or np.any(self.pscore > 1):
            raise ValueError("logging propensities must be in (0, 1]")
        if self.features is not None and (self.features.ndim != 2 or len(self.features) != n):
            raise ValueError(f"features must be (rows, d) with {n} rows, got {self.features.shape}")
        if self.affinity is not None and self.affinity.shape != (n, self.n_actions):
            raise ValueError(f"affinity must be (rows, actions) = {(n, self.n_actions)}, got {self.affinity.shape}")
        for name, arr in (("features", self.features), ("affinity", self.affinity)):
            if arr is not None and not np.isfinite(arr).all():
                raise ValueError(f"{name} has NaN or infinite values")

    @property
    def has_context(self) -> bool:
        return self.features is not None or self.affinity is not None

    @property
    def n(self) -> int:
        return int(self.reward.size)

    def subset(self, mask: np.ndarray) -> "BanditLog":
        return BanditLog(self.context[mask], self.action[mask], self.reward[mask], self.pscore[mask],
                         self.n_contexts, self.n_actions,
                         None if self.features is None else self.features[mask],
                         None if self.affinity is None else self.affinity[mask])


def action_frequencies(log: BanditLog) -> np.ndarray:
    """Empirical pi[x, a] of the logger: its time-averaged policy if the logger was context-free."""
    counts = np.zeros((log.n_contexts, log.n_actions))
    np.add.at(counts, (log.context, log.action), 1.0)
    return counts / counts.sum(axis=1, keepdims=True).clip(min=1)


def bootstrap_frequencies(log: BanditLog, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, contexts, actions) action frequencies of resampled logs, for a policy estimated from a log."""
    freq = action_frequencies(log)
    per_ctx = np.bincount(log.context, minlength=log.n_contexts)
    out = np.stack([rng.multinomial(per_ctx[x], freq[x], size=n_boot) for x in range(log.n_contexts)], axis=1)
    return out / np.maximum(per_ctx, 1)[None, :, None]


def reward_model(log: BanditLog, folds: int, prior_strength: float, rng: np.random.Generator,
                 kind: str = "table") -> np.ndarray:
    """Cross-fitted q(x_i, a) for every row and action, shape (n, actions).

    ``table``: per fold, the click rate of (position, action) from the other folds, shrunk towards the
    position's rate by ``prior_strength`` pseudo-impressions. ``contextual`` (on a log with features or
    affinities; the table otherwise): per fold, a logistic regression of the click on position, action,
    the row's features and its affinity to the action, fitted on the other folds.
    """
    if kind not in REWARD_MODELS:
        raise ValueError(f"reward model must be one of {REWARD_MODELS}, got {kind!r}")
    fold = rng.integers(0, folds, size=log.n)
    if kind == "contextual" and log.has_context:
        return _contextual_q(log, fold, folds)
    q = np.empty((log.n, log.n_actions))
    for f in range(folds):  # a loop over folds, each vectorised over rows
        train = fold != f
        imp = np.zeros((log.n_contexts, log.n_actions))
        clk = np.zeros_like(imp)
        np.add.at(imp, (log.context[train], log.action[train]), 1.0)
        np.add.at(clk, (log.context[train], log.action[train]), log.reward[train])
        base = clk.sum(axis=1, keepdims=True) / imp.sum(axis=1, keepdims=True).clip(min=1)
        table = (clk + prior_strength * base) / (imp + prior_strength)
        q[~train] = table[log.context[~train]]
    return q


def _contextual_q(log: BanditLog, fold: np.ndarray, folds: int, c: float = 1.0) -> np.ndarray:
    """q[i, a] = sigmoid(b + w_pos[x_i] + w_item[a] + f_i . w_f + w_aff * affinity[i, a]) per cross-fitting fold.

    The logit is additive, so predicting every action of every row is one (n, actions) array expression,
    not a design matrix of n x actions rows."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    n, A, X = log.n, log.n_actions, log.n_contexts
    rows = np.arange(n)
    blocks = [sparse.csr_matrix((np.ones(n), (rows, log.context)), shape=(n, X)),
              sparse.csr_matrix((np.ones(n), (rows, log.action)), shape=(n, A))]
    feats = np.zeros((n, 0)) if log.features is None else log.features
    blocks.append(sparse.csr_matrix(feats))
    aff = None
    if log.affinity is not None:
        sd = float(log.affinity.std())
        aff = (log.affinity - float(log.affinity.mean())) / (sd if sd > 0 else 1.0)
        blocks.append(sparse.csr_matrix(aff[rows, log.action][:, None]))
    design = sparse.hstack(blocks, format="csr")
    q = np.empty((n, A))
    for f in range(folds):  # a loop over folds, each vectorised over rows
        train, test = fold != f, fold == f
        y = log.reward[train]
        if y.min() == y.max():  # no click (or only clicks) to learn from: the fold's rate
            q[test] = y.mean() if y.size else 0.0
            continue
        m = LogisticRegression(C=c, max_iter=500).fit(design[train], y)
        w = m.coef_[0]
        w_pos, w_item, w_f = w[:X], w[X:X + A], w[X + A:X + A + feats.shape[1]]
        logit = (m.intercept_[0] + w_pos[log.context[test]] + feats[test] @ w_f)[:, None] + w_item[None, :]
        if aff is not None:
            logit = logit + w[-1] * aff[test]
        q[test] = 1.0 / (1.0 + np.exp(-logit))
    return q


def _percentile(x: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.nanquantile(x, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def evaluate(log: BanditLog, pi: np.ndarray, q: np.ndarray | None, n_boot: int, rng: np.random.Generator,
             pi_boot: np.ndarray | None = None, level: float = 0.95, chunk: int = 100, clip: float = 0.0,
             bounds: tuple[float, float] = (0.0, 1.0)) -> pd.DataFrame:
    """Every estimator's value of policy ``pi`` (contexts x actions) on ``log``, with bootstrap intervals.

    ``clip`` > 0 caps each importance weight at ``clip`` (less variance; with rewards >= 0 the weighted
    estimators then lean low). Estimates and bounds outside ``bounds`` (the reward's range: a CTR is in
    [0, 1]) are moved to its edge, and the note says so with the raw value.

    Columns: estimator, estimate, lo, hi, se (bootstrap sd), ess (effective sample
    size of the weights; for replay, the matched rows), note.
    """
    if pi.shape != (log.n_contexts, log.n_actions):
        raise ValueError(f"policy must have shape {(log.n_contexts, log.n_actions)}, got {pi.shape}")
    ctx, act, r, p = log.context, log.action, log.reward, log.pscore
    cum = np.cumsum(pi, axis=1)
    sampled = (rng.random(log.n)[:, None] > cum[ctx]).sum(axis=1).clip(max=log.n_actions - 1)
    match = (sampled == act).astype(float)

    def stats(w: np.ndarray, dm: np.ndarray, qa: np.ndarray, m: np.ndarray, rr: np.ndarray) -> dict[str, np.ndarray]:
        out = {"replay": (m * rr).sum(-1) / np.where(m.sum(-1) > 0, m.sum(-1), np.nan),
               "ipw": (w * rr).mean(-1), "snipw": (w * rr).sum(-1) / (w.sum(-1))}
        if dm is not None:
            out["dm"] = dm.mean(-1)
            out["dr"] = (dm + w * (rr - qa)).mean(-1)
        return out

    raw = pi[ctx, act] / p
    w = importance_weights(log, pi, clip)
    clipped = float((raw - w).sum() / max(raw.sum(), 1e-300))
    dm = (pi[ctx] * q).sum(axis=1) if q is not None else None
    qa = q[np.arange(log.n), act] if q is not None else None
    point = stats(w, dm, qa, match, r)
    boots: dict[str, list[np.ndarray]] = {k: [] for k in point if k != "replay"}
    for start in range(0, n_boot, chunk):
        c = min(chunk, n_boot - start)
        idx = rng.integers(0, log.n, size=(c, log.n))
        if pi_boot is not None:
            pb = pi_boot[start:start + c]
            wb = pb[np.arange(c)[:, None], ctx[idx], act[idx]] / p[idx]
            if clip > 0:
                wb = np.minimum(wb, clip)
            dmb = None
            if q is not None:  # sum_a pi_b[x_i, a] q[i, a] per replicate, one matrix product per context
                dm_all = np.empty((c, log.n))
                for x in range(log.n_contexts):
                    rows = ctx == x
                    dm_all[:, rows] = pb[:, x, :] @ q[rows].T
                dmb = np.take_along_axis(dm_all, idx, axis=1)
        else:
            wb, dmb = w[idx], (dm[idx] if dm is not None else None)
        res = stats(wb, dmb, qa[idx] if qa is not None else None, match[idx], r[idx])
        for k in boots:
            boots[k].append(res[k])
    rows = []
    ess_w = float(w.sum() ** 2 / max((w ** 2).sum(), 1e-300))
    for k in ESTIMATORS:
        if k not in point:
            continue
        if k == "replay":
            rows.append(binomial_interval(match.astype(bool), r, level))
            continue
        bs = np.concatenate(boots[k])
        lo, hi = _percentile(bs, level)
        notes = [f"weights capped at {clip:g} ({100 * clipped:.1f}% of the weight mass cut): biased low"] \
            if clipped > 0 and k != "dm" else []
        est = float(point[k])
        if any(np.isfinite(v) and not bounds[0] <= v <= bounds[1] for v in (est, lo, hi)):
            notes.append(f"bounded to [{bounds[0]:g}, {bounds[1]:g}] (raw {est:.4g} [{lo:.4g}, {hi:.4g}])")
            est, lo, hi = (float(np.clip(v, *bounds)) for v in (est, lo, hi))
        rows.append({"estimator": k, "estimate": est, "lo": lo, "hi": hi, "se": float(np.nanstd(bs)),
                     "ess": ess_w, "note": "; ".join(notes)})
    return pd.DataFrame(rows)


def importance_weights(log: BanditLog, pi: np.ndarray, clip: float = 0.0) -> np.ndarray:
    """pi[x_i, a_i] / p_i per row, capped at ``clip`` when it is > 0."""
    w = pi[log.context, log.action] / log.pscore
    return np.minimum(w, clip) if clip > 0 else w


def dr_split_spread(log: BanditLog, pi: np.ndarray, folds: int, prior_strength: float, splits: int,
                    rng: np.random.Generator, clip: float = 0.0, kind: str = "table") -> float:
    """Standard deviation of the DR point estimate over ``splits`` different cross-fitting splits of the reward
    model: a DR estimate that moves with the split rests on a reward model that does not hold."""
    w = importance_weights(log, pi, clip)
    values = []
    for _ in range(splits):  # a loop over splits, each vectorised over rows
        q = reward_model(log, folds, prior_strength, rng, kind)
        qa = q[np.arange(log.n), log.action]
        values.append(float(((pi[log.context] * q).sum(axis=1) + w * (log.reward - qa)).mean()))
    return float(np.std(values))


def on_policy(reward: np.ndarray, n_boot: int, rng: np.random.Generator, level: float = 0.95) -> dict[str, float]:
    """Observed mean reward of a log with a bootstrap interval."""
    idx = rng.integers(0, reward.size, size=(n_boot, reward.size))
    lo, hi = _percentile(reward[idx].mean(axis=1), level)
    return {"estimator": "observed", "estimate": float(reward.mean()), "lo": lo, "hi": hi,
            "se": float(reward[idx].mean(axis=1).std()), "ess": float(reward.size), "note": ""}


def replay_learning(log: BanditLog, choose: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                    update: Callable[[np.ndarray, np.ndarray, np.ndarray], None], batch: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Replay a learning policy through a uniform-random log in time-ordered batches.

    For each batch the policy chooses an action per row (``choose(contexts, rng)``); rows
    where it matches the logged action count, and the policy learns from them
    (``update(contexts, actions, rewards)``) before the next batch: batched Thompson
    sampling, as production systems update. Returns (matched mask, reward).
    """
    matched = np.zeros(log.n, dtype=bool)
    for start in range(0, log.n, batch):  # a loop over batches of rows
        sl = slice(start, start + batch)
        m = choose(log.context[sl], rng) == log.action[sl]
        matched[sl] = m
        if m.any():
            update(log.context[sl][m], log.action[sl][m], log.reward[sl][m])
    return matched, log.reward


def binomial_interval(matched: np.ndarray, reward: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Replay's estimate (mean reward of matched rows) with the exact Clopper-Pearson interval."""
    from scipy.stats import beta as beta_dist

    m = int(matched.sum())
    k = int(reward[matched].sum())
    a = (1 - level) / 2
    lo = float(beta_dist.ppf(a, k, m - k + 1)) if k > 0 else 0.0
    hi = float(beta_dist.ppf(1 - a, k + 1, m - k)) if k < m else 1.0
    est = k / m if m else float("nan")
    se = float(np.sqrt(est * (1 - est) / m)) if m else float("nan")
    return {"estimator": "replay", "estimate": est, "lo": lo if m else float("nan"), "hi": hi if m else float("nan"),
            "se": se, "ess": float(m), "note": "" if m else "no logged action matched the policy's"}
