"""load_logs / validate_logs: Open Bandit Dataset logs and synthetic logs in one normalised schema.

Schema: log (which logger), timestamp, platform, slot (1-based position), location
(campaign), creative, click, propensity (the logger's probability of the shown creative);
and, where the log has them, the user's context for the contextual reward model: ``user``
(the user's categorical features joined by ``|``; OBD's user_feature_0..3) and ``affinity_<k>``
(the user's affinity score for creative k; OBD's user-item_affinity_k).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.banner_bandit_eval.config import BannerConfig
from jobs.paths import RunContext, atomic_path, write_json
from jobs.tables import Column, convert_columns, read_rows, require_columns
from jobs.validation import validate_and_log
from models.bandits.banner_synth import log_policy, make_banner_world, softmax_policy, uniform_policy
from models.bandits.ope import BanditLog
from models.common.errors import BadInputError
from models.common.streams import derived_seed

log = logging.getLogger(__name__)

OBD_COLUMNS = (Column("timestamp", "timestamp"), Column("item_id", "int"), Column("position", "int"),
               Column("click", "int"), Column("propensity_score", "float"))
OBD_LOGGERS = ("random", "bts")
SCHEMA = ["log", "timestamp", "platform", "slot", "location", "creative", "click", "propensity"]
USER, AFFINITY = "user", "affinity_"


def obd_files(obd: Path, campaign: str) -> tuple[dict[str, Path], list[Path]]:
    """The campaign's log file per logger, in either layout people keep the Open Bandit Dataset in: flat,
    ``<dir>/<logger>/<campaign>.csv``, or as the dataset and Open Bandit Pipeline ship it,
    ``<dir>/<logger>/<campaign>/<campaign>.csv``. Returns (found, every path looked for where one is missing)."""
    found, missing = {}, []
    for logger in OBD_LOGGERS:
        candidates = [obd / logger / f"{campaign}.csv", obd / logger / campaign / f"{campaign}.csv"]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            missing += candidates
        else:
            found[logger] = hit
    return found, missing


def read_obd(path: Path, logger: str, cfg: BannerConfig) -> pd.DataFrame:
    """One OBD log (a file of :func:`obd_files`) in the normalised schema, with the user's context when the file
    has it (user_feature_*, user-item_affinity_*)."""
    table = read_rows(path, "OBD log")
    names = list(table.frame.columns)
    users = sorted((c for c in names if c.startswith("user_feature_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    affinities = sorted((c for c in names if c.startswith("user-item_affinity_")),
                        key=lambda c: int(c.rsplit("_", 1)[1]))
    require_columns(table, OBD_COLUMNS)  # the context columns are optional: those found in the header
    raw = convert_columns(table, [*OBD_COLUMNS, *(Column(c, "str") for c in users),
                                  *(Column(c, "float") for c in affinities)])
    ts = raw["timestamp"]
    context = {}
    if users:
        context[USER] = raw[users[0]].str.cat(raw[users[1:]], sep="|") if len(users) > 1 else raw[users[0]]
    context.update({f"{AFFINITY}{c.rsplit('_', 1)[1]}": raw[c] for c in affinities})
    return pd.DataFrame(
        {
            "log": logger,
            "timestamp": ts,
            "platform": cfg.platform,
            "slot": raw["position"],
            "location": cfg.campaign,
            "creative": raw["item_id"],
            "click": raw["click"],
            "propensity": raw["propensity_score"],
            **context,
        }
    ).sort_values("timestamp", kind="stable", ignore_index=True)


def synthetic_logs(cfg: BannerConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A uniform-random and a production (softmax) log of the same world, and the world's truth."""
    world = make_banner_world(cfg.synthetic_positions, cfg.synthetic_creatives, cfg.seed,
                              segments=cfg.synthetic_segments, segment_spread=cfg.synthetic_segment_spread)
    prod = softmax_policy(world, temperature=0.5, seed=derived_seed(cfg.seed, "banner.production_policy"))
    frames = []
    start = pd.Timestamp("2026-01-01", tz="UTC")
    for i, (name, pi) in enumerate(
        (("synthetic_uniform", uniform_policy(*world.shape)), ("synthetic_production", prod))
    ):
        lg = log_policy(world, pi, cfg.synthetic_rows, derived_seed(cfg.seed, "banner.logs", i))
        context = {}
        if lg.features is not None:
            context[USER] = "segment_" + pd.Series(lg.features.argmax(axis=1)).astype(str)
            context.update({f"{AFFINITY}{k}": lg.affinity[:, k] for k in range(lg.n_actions)})
        frames.append(pd.DataFrame({
            "log": name, "timestamp": start + pd.to_timedelta(np.arange(lg.n) * (7 * 86400 / lg.n), unit="s"),
            "platform": "synthetic", "slot": lg.context + 1, "location": "demo", "creative": lg.action,
            "click": lg.reward.astype(int), "propensity": lg.pscore, **context}))
    return pd.concat(frames, ignore_index=True), {"ctr": world.ctr.tolist(), "production_policy": prod.tolist()}


def to_bandit_log(df: pd.DataFrame, n_slots: int, n_creatives: int) -> BanditLog:
    """The estimators' arrays: context = slot - 1, action = creative; the user's features (one-hot per ``|``-part
    of ``user``) and affinities (``affinity_0..``) when every row of ``df`` has them."""
    features = affinity = None
    if USER in df.columns and df[USER].notna().all():
        parts = df[USER].astype(str).str.split("|", expand=True)
        features = pd.get_dummies(parts, dtype=float).to_numpy()
    cols = [f"{AFFINITY}{k}" for k in range(n_creatives)]
    if set(cols) <= set(df.columns):
        values = df[cols].to_numpy(float)
        affinity = values if np.isfinite(values).all() else None
    return BanditLog(df["slot"].to_numpy(int) - 1, df["creative"].to_numpy(int), df["click"].to_numpy(float),
                     df["propensity"].to_numpy(float), n_slots, n_creatives, features, affinity)


def run_load(cfg: BannerConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Write the OBD logs (when present) and the synthetic logs, with the synthetic truth apart."""
    import mlflow

    frames = []
    obd = cfg.obd_path()
    files, missing = obd_files(obd, cfg.campaign)
    if not missing:
        frames += [read_obd(f, lg, cfg) for lg, f in files.items()]
        log.info("OBD logs from %s: %s", obd, {str(f): len(df) for f, df in zip(files.values(), frames)})
    elif cfg.obd_dir:
        raise BadInputError(f"obd_dir={cfg.obd_dir} lacks campaign {cfg.campaign!r}: looked for "
                            f"{' and '.join(str(f) for f in missing)}")
    else:
        log.warning("no Open Bandit Dataset logs at %s (get them from https://research.zozo.com/data_release/"
                    "open_bandit_dataset.zip or set obd_dir / PLATFORM_OBD_DIR): evaluating synthetic logs only", obd)
    synth, truth = synthetic_logs(cfg)
    frames.append(synth)
    if cfg.source == "served":
        from jobs.served import IMPRESSIONS_SQL, read_frame

        served = read_frame(IMPRESSIONS_SQL, cfg.served_days, "impressions").assign(log="served")
        log.info("served impressions: %d (%d clicks)", len(served), int(served["click"].sum()))
        frames.append(served)
    logs = pd.concat(frames, ignore_index=True)
    affinities = sorted((c for c in logs.columns if c.startswith(AFFINITY)), key=lambda c: int(c[len(AFFINITY):]))
    logs = logs[SCHEMA + ([USER] if USER in logs.columns else []) + affinities]
    path = ctx.run_dir / "logs" / "logs.parquet"
    with atomic_path(path) as tmp:
        logs.to_parquet(tmp, index=False)
    write_json(ctx.run_dir / "truth" / "synthetic_truth.json", truth)
    counts = logs.groupby("log")["click"].agg(["size", "sum"])
    for name, row in counts.iterrows():
        mlflow.log_metrics({f"{name}.rows": int(row["size"]), f"{name}.clicks": int(row["sum"])})
    return {"logs_path": str(path), "truth_path": str(ctx.run_dir / "truth" / "synthetic_truth.json"),
            "logs": sorted(counts.index)}


def run_validate(cfg: BannerConfig, ctx: RunContext, state: dict[str, Any]) -> dict[str, Any]:
    """Great Expectations suite ``banner_logs`` over every log's normalised columns (the user's context columns
    vary with the data set; the reward model checks them)."""
    df = pd.read_parquet(state["logs_path"], columns=SCHEMA)
    return {**state, "validate_logs": validate_and_log(df, "banner_logs", f"logs {state['logs_path']}",
                                                       ctx.run_dir / "validation")}
