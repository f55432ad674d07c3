"""evaluate: off-policy estimates of banner policies, on the OBD logs and on synthetic logs with truth.

OBD (real, ZOZOTOWN): our Thompson-sampling policy, cold-started on the random log's
first days and evaluated on the rest; the production BTS policy estimated from the
random log next to its observed on-policy CTR; the random policy estimated from the BTS
log next to its observed CTR. Synthetic: the same estimators where the truth is known.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from jobs.banner_bandit_eval.config import BannerConfig
from jobs.banner_bandit_eval.logs import to_bandit_log
from jobs.pages.format import interval
from jobs.pages.render import Page, Section, formatted, render
from jobs.paths import RunContext, atomic_path
from jobs.plots import pyplot, save_png
from models.bandits.banner import KEY, BannerTS
from models.bandits.banner_synth import BannerWorld, uniform_policy
from models.bandits.ope import (
    BanditLog,
    action_frequencies,
    binomial_interval,
    bootstrap_frequencies,
    dr_split_spread,
    evaluate,
    on_policy,
    replay_learning,
    reward_model,
)
from models.common.streams import stream

log = logging.getLogger(__name__)


def split_prior(df: pd.DataFrame, prior_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first ``prior_days`` calendar days of a log, and the rest."""
    day = df["timestamp"].dt.floor("D")
    days = np.sort(day.unique())
    if len(days) <= prior_days:
        raise ValueError(f"the log spans {len(days)} day(s): prior_days={prior_days} leaves nothing to evaluate on")
    prior = day < days[prior_days]
    return df[prior], df[~prior]


def fit_ts(prior: pd.DataFrame, n_slots: int, n_creatives: int, cfg: BannerConfig) -> BannerTS:
    """Our policy: every (slot, creative) of the key registered, cold-started from ``prior`` impressions."""
    key = prior[KEY].iloc[0].to_dict()
    arms = pd.DataFrame({**{k: v for k, v in key.items()}, "slot": np.repeat(np.arange(1, n_slots + 1), n_creatives),
                         "creative": np.tile(np.arange(n_creatives), n_slots)})
    agg = prior.groupby(KEY + ["creative"], as_index=False).agg(impressions=("click", "size"), clicks=("click", "sum"))
    return BannerTS(cfg.prior_alpha, cfg.prior_beta).add_creatives(arms).cold_start(agg, cfg.prior_weight)


def ts_matrix(ts: BannerTS, n_slots: int, n_creatives: int, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """The TS policy's action probabilities as a (slots x creatives) matrix."""
    probs = ts.action_probabilities(n_draws, rng)
    pi = np.zeros((n_slots, n_creatives))
    pi[probs["slot"].to_numpy(int) - 1, probs["creative"].to_numpy(int)] = probs["prob"].to_numpy()
    return pi


def learning_replay(
    ts: BannerTS, df: pd.DataFrame, lg: BanditLog, cfg: BannerConfig, rng: np.random.Generator
) -> dict[str, Any]:
    """Replay the TS policy, learning in batches of ``replay_batch`` rows, through a uniform log."""
    key = df[KEY].iloc[0].to_dict()

    def requests(ctx: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({**{k: v for k, v in key.items() if k != "slot"}, "slot": ctx + 1})[KEY]

    def choose(ctx: np.ndarray, r: np.random.Generator) -> np.ndarray:
        return ts.choose(requests(ctx), r)

    def update(ctx: np.ndarray, act: np.ndarray, rew: np.ndarray) -> None:
        ts.update(requests(ctx).assign(creative=act, click=rew))

    matched, reward = replay_learning(lg, choose, update, cfg.replay_batch, rng)
    return binomial_interval(matched, reward)


def _rows(source: str, policy: str, log_name: str, est: pd.DataFrame | list[dict[str, Any]],
          reference: float = float("nan"), ref_kind: str = "") -> pd.DataFrame:
    out = pd.DataFrame(est).assign(
        source=source, policy=policy, log=log_name, reference=reference, reference_kind=ref_kind
    )
    out["covered"] = np.where(np.isnan(reference), np.nan, (out["lo"] <= reference) & (reference <= out["hi"]))
    return out


def estimate(lg: BanditLog, pi: np.ndarray, cfg: BannerConfig, rng: np.random.Generator,
             pi_boot: np.ndarray | None = None, q: np.ndarray | None = None) -> pd.DataFrame:
    """Every estimator of ``pi`` on ``lg`` with this run's settings: a cross-fitted reward model, the weight
    cap, DR's spread over ``dr_splits`` other splits (``split_sd``), and replay only where it is unbiased (a
    uniform logger; elsewhere its row stays, empty, saying why)."""
    q = reward_model(lg, cfg.dr_folds, cfg.dr_prior_strength, rng, cfg.reward_model) if q is None else q
    est = evaluate(lg, pi, q, cfg.n_boot, rng, pi_boot=pi_boot, clip=cfg.weight_clip)
    # Its own stream: the splits do not shift the draws of the estimates after this one.
    splits = stream(cfg.seed, "banner.dr_splits", lg.n)
    est["split_sd"] = np.where(est["estimator"] == "dr", dr_split_spread(
        lg, pi, cfg.dr_folds, cfg.dr_prior_strength, cfg.dr_splits, splits, cfg.weight_clip, cfg.reward_model),
        np.nan)
    if np.ptp(lg.pscore) >= 1e-12:
        replay = est["estimator"] == "replay"
        est.loc[replay, ["estimate", "lo", "hi", "se"]] = np.nan
        est.loc[replay, "note"] = "not estimated: replay is unbiased only under a uniform logger"
    return est


def flag_low_ess(table: pd.DataFrame, min_ess: float) -> pd.DataFrame:
    """Mark (``low_ess``) and note every estimate whose weights' effective sample size is below ``min_ess``."""
    table = table.copy()
    table["low_ess"] = table["estimate"].notna() & (table["ess"] < min_ess)
    ess = ("ESS " + table["ess"].round(1).astype(str) + f" < {min_ess:g}: a few rows carry this estimate")
    table["note"] = (table["note"].fillna("") + "; " + ess.where(table["low_ess"], "")).str.strip("; ")
    return table


def obd_table(logs: pd.DataFrame, cfg: BannerConfig, rng: np.random.Generator) -> pd.DataFrame:
    """OPE on the real OBD logs (random and BTS loggers)."""
    rnd, bts = logs[logs["log"] == "random"], logs[logs["log"] == "bts"]
    n_slots = int(max(rnd["slot"].max(), bts["slot"].max()))
    n_cr = int(max(rnd["creative"].max(), bts["creative"].max())) + 1
    R, B = to_bandit_log(rnd, n_slots, n_cr), to_bandit_log(bts, n_slots, n_cr)
    obs_r, obs_b = on_policy(R.reward, cfg.n_boot, rng), on_policy(B.reward, cfg.n_boot, rng)
    parts = [_rows("obd", "random", "random", [obs_r]), _rows("obd", "bts", "bts", [obs_b])]
    bts_pi, bts_boot = action_frequencies(B), bootstrap_frequencies(B, cfg.n_boot, rng)
    est = estimate(R, bts_pi, cfg, rng, pi_boot=bts_boot)
    parts.append(_rows("obd", "bts", "random", est, obs_b["estimate"], "observed on-policy CTR"))
    est = estimate(B, uniform_policy(n_slots, n_cr), cfg, rng)
    parts.append(
        _rows("obd", "random", "bts", est, obs_r["estimate"], "observed on-policy CTR")
    )
    prior, rest = split_prior(rnd, cfg.prior_days)
    ts = fit_ts(prior, n_slots, n_cr, cfg)
    Re = to_bandit_log(rest, n_slots, n_cr)
    label = f"random (after day {cfg.prior_days})"
    est = estimate(Re, ts_matrix(ts, n_slots, n_cr, cfg.n_draws, rng), cfg, rng)
    parts.append(_rows("obd", "thompson (cold start)", label, est))
    parts.append(_rows("obd", "thompson (learning, batched)", label, [learning_replay(ts, rest, Re, cfg, rng)]))
    parts.append(_rows("obd", "random", label, [on_policy(Re.reward, cfg.n_boot, rng)]))
    return pd.concat(parts, ignore_index=True)


def synthetic_table(
    logs: pd.DataFrame, truth: dict[str, Any], cfg: BannerConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """The same estimators on synthetic logs, each next to the exact truth."""
    world, prod = BannerWorld(np.asarray(truth["ctr"])), np.asarray(truth["production_policy"])
    n_slots, n_cr = world.shape
    uni_df, prod_df = logs[logs["log"] == "synthetic_uniform"], logs[logs["log"] == "synthetic_production"]
    U, P = to_bandit_log(uni_df, n_slots, n_cr), to_bandit_log(prod_df, n_slots, n_cr)
    uni = uniform_policy(n_slots, n_cr)
    parts = [
        _rows("synthetic", "uniform", "uniform", [on_policy(U.reward, cfg.n_boot, rng)], world.value(uni), "truth"),
        _rows(
            "synthetic", "production", "production", [on_policy(P.reward, cfg.n_boot, rng)], world.value(prod), "truth"
        ),
    ]
    est = estimate(U, prod, cfg, rng)
    parts.append(_rows("synthetic", "production", "uniform", est, world.value(prod), "truth"))
    est = estimate(P, uni, cfg, rng)
    parts.append(
        _rows("synthetic", "uniform", "production", est, world.value(uni), "truth")
    )
    prior, rest = split_prior(uni_df, cfg.prior_days)
    ts = fit_ts(prior, n_slots, n_cr, cfg)
    pi_ts = ts_matrix(ts, n_slots, n_cr, cfg.n_draws, rng)
    Ue = to_bandit_log(rest, n_slots, n_cr)
    label = f"uniform (after day {cfg.prior_days})"
    est = estimate(Ue, pi_ts, cfg, rng)
    parts.append(_rows("synthetic", "thompson (cold start)", label, est, world.value(pi_ts), "truth"))
    parts.append(_rows("synthetic", "thompson (learning, batched)", label, [learning_replay(ts, rest, Ue, cfg, rng)]))
    return pd.concat(parts, ignore_index=True)


def served_table(served: pd.DataFrame, cfg: BannerConfig, rng: np.random.Generator) -> pd.DataFrame:
    """OPE on the online service's own log, weighted by the propensities it logged: the served policy's observed
    CTR; uniform random and the Thompson policy cold-started on the log's first half, on its second half."""
    served = served.sort_values("timestamp", kind="stable", ignore_index=True)
    ctx = served.groupby(KEY, sort=True).ngroup().to_numpy()
    n_ctx, n_cr = int(ctx.max()) + 1, int(served["creative"].max()) + 1
    exists = np.zeros((n_ctx, n_cr), dtype=bool)
    exists[ctx, served["creative"].to_numpy(int)] = True  # a context's creatives: those it ever showed
    lg = BanditLog(ctx, served["creative"].to_numpy(int), served["click"].to_numpy(float),
                   served["propensity"].to_numpy(float), n_ctx, n_cr)
    parts = [_rows("served", "thompson (served)", "served", [on_policy(lg.reward, cfg.n_boot, rng)])]
    half = np.arange(lg.n) >= lg.n // 2
    second = lg.subset(half)
    uni = exists / exists.sum(axis=1, keepdims=True)
    label = "served (second half)"
    q = reward_model(second, cfg.dr_folds, cfg.dr_prior_strength, rng, cfg.reward_model)
    parts.append(_rows("served", "uniform", label,
                       estimate(second, uni, cfg, rng, q=q)))
    keys = served[KEY].drop_duplicates().sort_values(KEY).reset_index(drop=True)
    arms = keys.loc[np.repeat(np.arange(n_ctx), exists.sum(axis=1))].reset_index(drop=True)
    arms["creative"] = np.nonzero(exists)[1]
    first = served[~half].groupby(KEY + ["creative"], as_index=False).agg(impressions=("click", "size"),
                                                                          clicks=("click", "sum"))
    ts = BannerTS(cfg.prior_alpha, cfg.prior_beta).add_creatives(arms).cold_start(first, cfg.prior_weight)
    probs = ts.action_probabilities(cfg.n_draws, rng).merge(keys.reset_index(), on=KEY)
    pi_ts = np.zeros((n_ctx, n_cr))
    pi_ts[probs["index"].to_numpy(int), probs["creative"].to_numpy(int)] = probs["prob"].to_numpy()
    parts.append(_rows("served", "thompson (cold start on first half)", label,
                       estimate(second, pi_ts, cfg, rng, q=q)))
    parts.append(_rows("served", "thompson (served)", label, [on_policy(second.reward, cfg.n_boot, rng)],
                       float(second.reward.mean()), "observed on-policy CTR"))
    return pd.concat(parts, ignore_index=True)


def power_notes(table: pd.DataFrame) -> list[str]:
    """What the intervals can and cannot tell apart (80% power, two-sided 5%)."""
    notes = []
    for row in table[table["estimator"].isin(["observed", "dr", "replay"])].itertuples():
        if not np.isfinite(row.estimate) or row.estimate <= 0:
            why = row.note or ("no estimate" if not np.isfinite(row.estimate) else "an estimate of 0")
            notes.append(f"{row.source}: {row.policy} on the {row.log} log ({row.estimator}): no power figure: {why}.")
            continue
        half = (row.hi - row.lo) / 2
        mdd = 2.8 * row.se * np.sqrt(2)
        notes.append(
            f"{row.source}: {row.policy} on the {row.log} log ({row.estimator}): {row.estimate:.4f}, 95% interval "
            f"+/-{half:.4f} (+/-{100 * half / row.estimate:.0f}%); two policies measured this way must differ by "
            f"about {mdd:.4f} ({100 * mdd / row.estimate:.0f}% relative) to be told apart at 80% power."
        )
    return notes


def forest_png(table: pd.DataFrame, path: Any, title: str) -> None:
    """Estimates with 95% intervals, one line per (policy, log, estimator); references as red marks."""
    plt = pyplot()
    t = table.iloc[::-1].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(t) + 1.5))
    y = np.arange(len(t))
    ax.errorbar(t["estimate"], y, xerr=[t["estimate"] - t["lo"], t["hi"] - t["estimate"]], fmt="o", capsize=3)
    ref = t["reference"].notna()
    ax.scatter(t.loc[ref, "reference"], y[ref.to_numpy()], marker="x", color="red", zorder=3, label="reference")
    ax.set_yticks(y, [f"{r.policy} | {r.log} | {r.estimator}" for r in t.itertuples()], fontsize=7)
    ax.set_xlabel("CTR")
    ax.set_title(title)
    ax.legend(loc="lower right")
    save_png(fig, path, dpi=110)


def page(table: pd.DataFrame, notes: list[str], flagged: list[str], pngs: dict[str, Any], cfg: BannerConfig,
         run_name: str) -> Page:
    """The OPE report as a page: the cross-checks against observed truth, our policy, the power, the flags."""
    est = table[table["estimate"].notna() & table["estimator"].isin(["ipw", "snipw", "dr"])]
    findings = []
    for source, g in est.groupby("source", sort=False):
        known = g[g["reference"].notna()]
        if len(known):
            findings.append(f"{source}: {int(known['covered'].sum())} of {len(known)} IPW / SNIPW / DR estimates "
                            f"cover the policy's known CTR ({'observed on-policy' if source == 'obd' else 'truth'}).")
    ours = est[est["policy"].str.startswith("thompson") & (est["estimator"] == "dr")]
    for r in ours.itertuples():
        ctr = interval(r.estimate, r.lo, r.hi, "rate")
        findings.append(f"Our Thompson policy on the {r.source} {r.log} log: CTR {ctr} (DR, {cfg.reward_model} "
                        f"reward model).")
    if notes:
        findings.append(notes[0])
    # At most six: the flag count always shows.
    findings = findings[:5] + [f"{len(flagged)} estimate(s) flagged or left out, each with its reason (Details)."
                               if flagged else "No estimate is flagged: every weight set has an effective sample "
                               f"size above {cfg.min_ess:g} and every estimate is inside [0, 1]."]
    view = formatted(table[["source", "policy", "log", "estimator", "estimate", "lo", "hi", "ess", "reference",
                            "covered"]].rename(columns={"estimate": "ctr", "lo": "ctr_lo", "hi": "ctr_hi"}),
                     {"ess": "count", "reference": "rate", "covered": "flag"}, {"ctr": "rate"},
                     {"ctr": "CTR (95%)", "ess": "ESS", "covered": "covers the reference"})
    sections = [Section(f"{source}: estimates and their intervals", "", [png],
                        view[view["source"] == source].drop(columns="source")) for source, png in pngs.items()]
    if notes:
        sections.append(Section("What the logs can resolve", " ".join(notes)))
    details = {"Every estimate": table}
    if flagged:
        details["Flags and omissions"] = pd.DataFrame({"flag": flagged})
    return Page(title=f"Banner policies: off-policy evaluation, {run_name}",
                subtitle=f"Estimators IPW, SNIPW, DR (reward model: {cfg.reward_model}), replay; 95% bootstrap "
                         f"intervals ({cfg.n_boot} replicates).", findings=findings, sections=sections,
                details=details)


def run(cfg: BannerConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Write ope_results.csv, ope_report.md, report.html and forest plots; log every estimate to MLflow."""
    import json

    import mlflow

    logs = pd.read_parquet(state["logs_path"])
    truth = json.loads(open(state["truth_path"]).read())
    rng = np.random.default_rng(cfg.seed)
    tables = []
    if {"random", "bts"} <= set(logs["log"]):
        tables.append(obd_table(logs, cfg, rng))
    tables.append(synthetic_table(logs, truth, cfg, rng))
    if "served" in set(logs["log"]):
        tables.append(served_table(logs[logs["log"] == "served"], cfg, rng))
    table = flag_low_ess(pd.concat(tables, ignore_index=True), cfg.min_ess)[
        ["source", "policy", "log", "estimator", "estimate", "lo", "hi", "se", "ess", "low_ess", "split_sd",
         "reference", "reference_kind", "covered", "note"]]
    for r in table[table["low_ess"]].itertuples():
        log.warning("%s: %s on the %s log (%s): %s", r.source, r.policy, r.log, r.estimator, r.note)
    notes = power_notes(table)
    flagged = [f"{r.source}: {r.policy} on the {r.log} log ({r.estimator}): {r.note}"
               for r in table[table["note"] != ""].itertuples()]
    estimated = table[table["estimate"].notna()]  # an empty row is in the report, with its reason
    out = ctx.run_dir / "ope"
    with atomic_path(out, is_dir=True) as tmp:
        table.to_csv(tmp / "ope_results.csv", index=False, float_format="%.6g")
        for source, g in estimated.groupby("source"):
            forest_png(g, tmp / f"ope_{source}.png", f"Off-policy estimates, {source} logs (95% intervals)")
        md = ["# Banner policies: off-policy evaluation", "",
              table.drop(columns="note").round(5).to_markdown(index=False), "",
              f"## Flags and omissions ({len(flagged)})", "", *[f"- {n}" for n in flagged], "",
              "## Power", "", *[f"- {n}" for n in notes], ""]
        (tmp / "ope_report.md").write_text("\n".join(md))
        pngs = {source: tmp / f"ope_{source}.png" for source in estimated["source"].unique()}
        (tmp / "report.html").write_text(render(page(table, notes, flagged, pngs, cfg, ctx.run_dir.name)))
    mlflow.log_artifacts(str(out), "ope")
    for r in estimated.itertuples():
        name = (
            f"{r.source}.{r.policy}.{r.log}.{r.estimator}".replace(" ", "_")
            .replace("(", "")
            .replace(")", "")
            .replace(",", "")
        )
        mlflow.log_metrics({name: r.estimate, f"{name}.lo": r.lo, f"{name}.hi": r.hi})
    log.info(
        "OPE results:\n%s\n%s",
        table[["source", "policy", "log", "estimator", "estimate", "lo", "hi", "reference"]]
        .round(5)
        .to_string(index=False),
        "\n".join(notes),
    )
    return {**state, "ope_path": str(out), "rows": len(table)}
