"""Off-policy estimates on the Open Bandit Dataset sample, and interval coverage on synthetic logs.

``python bench/ope_obd.py [--obd-dir DIR] [--campaign all|men|women]``: the banner_bandit_eval demo settings
(2,000 bootstrap replicates) on the OBD logs (default ../shared/data/obd; either layout of
``jobs.banner_bandit_eval.logs.obd_files``), then ``--logs`` synthetic logs (10,000 rows each, known truth) to
measure how often each estimator's 95% interval covers the truth and its error, in two worlds: ``plain``
(CTR 1% x position x creative) and ``segments`` (CTR 20%, four user segments with their own taste, log-sd 1.5:
the context explains much of who clicks). DR runs with both reward models (``dr``: the position x creative
table; ``dr (contextual)``: the user's features and affinity too).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from common import write_result

from jobs.banner_bandit_eval.config import load
from jobs.banner_bandit_eval.evaluate import obd_table
from jobs.banner_bandit_eval.logs import obd_files, read_obd
from models.bandits.banner_synth import log_policy, make_banner_world, softmax_policy, uniform_policy
from models.bandits.ope import evaluate, reward_model

WORLDS = {"plain": {}, "segments": {"base_ctr": 0.2, "segments": 4, "segment_spread": 1.5}}


def coverage(world_name: str, n_logs: int = 200, rows: int = 10_000) -> list[dict]:
    world = make_banner_world(3, 20, seed=1, **WORLDS[world_name])
    uni, prod = uniform_policy(3, 20), softmax_policy(world, 0.5, seed=2)
    out = []
    for s in range(n_logs):
        rng = np.random.default_rng(s)
        for name, logger, target in (
            ("production from uniform log", uni, prod),
            ("uniform from production log", prod, uni),
        ):
            lg = log_policy(world, logger, rows, seed=1000 + s)
            est = evaluate(lg, target, reward_model(lg, 2, 200.0, rng), 300, rng)
            ctx = evaluate(lg, target, reward_model(lg, 2, 200.0, rng, "contextual"), 300, rng) if lg.has_context \
                else est
            if lg.has_context:
                est = pd.concat([est, ctx[ctx["estimator"] == "dr"].assign(estimator="dr (contextual)")])
            truth = world.value(target)
            out.append(est.assign(case=name, truth=truth, covered=(est["lo"] <= truth) & (truth <= est["hi"]),
                                  error=est["estimate"] - truth))
    d = pd.concat(out)
    # Replay is only unbiased under a uniform logger: report it for that case alone.
    d = d[~((d["case"] == "uniform from production log") & (d["estimator"] == "replay"))]
    g = d.groupby(["case", "estimator"]).agg(coverage=("covered", "mean"), bias=("error", "mean"),
                                             rmse=("error", lambda e: float(np.sqrt((e ** 2).mean()))),
                                             truth=("truth", "first"))
    return g.reset_index().assign(world=world_name).round(6).to_dict(orient="records")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--obd-dir", default="", help="Open Bandit Dataset folder (default: the config's)")
    parser.add_argument("--campaign", default="all")
    parser.add_argument("--logs", type=int, default=200, help="synthetic logs behind the coverage figures")
    args = parser.parse_args()
    cfg = load("demo", {"obd_dir": args.obd_dir, "campaign": args.campaign})
    files, missing = obd_files(cfg.obd_path(), cfg.campaign)
    if missing:
        raise SystemExit(f"campaign {cfg.campaign!r}: looked for {' and '.join(map(str, missing))}")
    t0 = time.perf_counter()
    logs = pd.concat([read_obd(f, lg, cfg) for lg, f in files.items()])
    table = obd_table(logs, cfg, np.random.default_rng(cfg.seed))
    obd_s = time.perf_counter() - t0
    cov = [*coverage("plain", args.logs), *coverage("segments", args.logs)]
    write_result("ope_obd", {
        "obd_rows": {"random": int((logs["log"] == "random").sum()), "bts": int((logs["log"] == "bts").sum())},
        "obd_clicks": {"random": int(logs.loc[logs["log"] == "random", "click"].sum()),
                       "bts": int(logs.loc[logs["log"] == "bts", "click"].sum())},
        "campaign": cfg.campaign, "n_boot": cfg.n_boot, "obd_seconds": round(obd_s, 1),
        "obd": table[["policy", "log", "estimator", "estimate", "lo", "hi", "se", "ess", "split_sd", "reference",
                      "note"]].round(6).to_dict(orient="records"),
        "synthetic_coverage": {"logs": args.logs, "rows_per_log": 10_000, "nominal": 0.95,
                               "worlds": {k: {"positions": 3, "creatives": 20, **v} for k, v in WORLDS.items()},
                               "results": cov},
    })


if __name__ == "__main__":
    main()
