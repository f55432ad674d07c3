"""load_logs / validate_logs: Open Bandit Dataset logs and synthetic logs in one normalised schema.

Schema: log (which logger), timestamp, platform, slot (1-based position), location
(campaign), creative, click, propensity (the logger's probability of the shown creative).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jobs.banner_bandit_eval.config import BannerConfig
from jobs.paths import RunContext, atomic_path, write_json
from jobs.tables import Column, read_table
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
    """One OBD log (a file of :func:`obd_files`) in the normalised schema."""
    raw = read_table(path, OBD_COLUMNS, "OBD log")
    ts = raw["timestamp"]
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
        }
    ).sort_values("timestamp", kind="stable", ignore_index=True)


def synthetic_logs(cfg: BannerConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A uniform-random and a production (softmax) log of the same world, and the world's truth."""
    world = make_banner_world(cfg.synthetic_positions, cfg.synthetic_creatives, cfg.seed)
    prod = softmax_policy(world, temperature=0.5, seed=derived_seed(cfg.seed, "banner.production_policy"))
    frames = []
    start = pd.Timestamp("2026-01-01", tz="UTC")
    for i, (name, pi) in enumerate(
        (("synthetic_uniform", uniform_policy(*world.shape)), ("synthetic_production", prod))
    ):
        lg = log_policy(world, pi, cfg.synthetic_rows, derived_seed(cfg.seed, "banner.logs", i))
        frames.append(pd.DataFrame({
            "log": name, "timestamp": start + pd.to_timedelta(np.arange(lg.n) * (7 * 86400 / lg.n), unit="s"),
            "platform": "synthetic", "slot": lg.context + 1, "location": "demo", "creative": lg.action,
            "click": lg.reward.astype(int), "propensity": lg.pscore}))
    return pd.concat(frames, ignore_index=True), {"ctr": world.ctr.tolist(), "production_policy": prod.tolist()}


def to_bandit_log(df: pd.DataFrame, n_slots: int, n_creatives: int) -> BanditLog:
    """The estimators' arrays: context = slot - 1, action = creative."""
    return BanditLog(df["slot"].to_numpy(int) - 1, df["creative"].to_numpy(int), df["click"].to_numpy(float),
                     df["propensity"].to_numpy(float), n_slots, n_creatives)


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
    logs = pd.concat(frames, ignore_index=True)[SCHEMA]
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
    """Great Expectations suite ``banner_logs`` over every log."""
    df = pd.read_parquet(state["logs_path"])
    return {**state, "validate_logs": validate_and_log(df, "banner_logs", f"logs {state['logs_path']}",
                                                       ctx.run_dir / "validation")}
