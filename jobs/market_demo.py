"""Market demo: scripted advertisers compete for 1,000 hours of retargeting auctions, live in the terminal.

``python -m jobs market_demo [--steps 1000] [--customers 10000] [--advertisers aggressive,adaptive] [--seed 0]``
(or ``make market-demo``). A table of each advertiser's metrics refreshes while it runs
(a log line every few seconds when the output is not a terminal); a summary with the
stage mix follows at the end. The CTR estimate is a noisy oracle unless ``--ctr-model``
names a registered model (e.g. ``models:/ctr_lightgbm@champion``).
"""

from __future__ import annotations

import argparse
import sys
import time

from jobs.market.advertisers import load_advertisers
from models.market.customers import STAGES
from models.market.simulator import MarketConfig, make_market, step, strategies_from_config, summary

COLUMNS = (
    "impressions",
    "clicks",
    "conversions",
    "spend",
    "revenue",
    "clv",
    "roas",
    "ctr",
    "cvr",
    "cpc",
    "cac",
    "win_rate",
    "market_share",
)


def table(m) -> object:  # type: ignore[no-untyped-def]
    from rich.table import Table

    t = Table(title=f"hour {m.t:,} (day {m.t // 24 + 1})")
    t.add_column("advertiser")
    for col in COLUMNS:
        t.add_column(col, justify="right")
    for r in summary(m).itertuples():
        t.add_row(
            r.advertiser,
            *(
                f"{getattr(r, c):,.0f}"
                if c in ("impressions", "clicks", "conversions", "spend", "revenue", "clv")
                else f"{getattr(r, c):.3f}"
                for c in COLUMNS
            ),
        )
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs market_demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--advertisers", default="", help="comma-separated subset (default: all five)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ctr-model", default="", help="registered CTR model URI (default: noisy oracle)")
    args = parser.parse_args(argv)
    names = [n for n in args.advertisers.split(",") if n] or None
    try:
        strategies = strategies_from_config(load_advertisers(), names)
    except ValueError as exc:
        parser.error(str(exc))
    ctr_model = None
    if args.ctr_model:
        import mlflow

        from jobs.tracking import mlflow_setup

        mlflow_setup("market_nightly")
        ctr_model = mlflow.pyfunc.load_model(args.ctr_model)
    m = make_market(MarketConfig(customers=args.customers, seed=args.seed), strategies, ctr_model)
    t0 = time.monotonic()
    if sys.stdout.isatty():
        from rich.live import Live

        with Live(table(m), refresh_per_second=4) as live:
            for i in range(args.steps):
                step(m, args.steps)
                if i % 10 == 9 or i == args.steps - 1:
                    live.update(table(m))
    else:
        last = t0
        for i in range(args.steps):
            step(m, args.steps)
            now = time.monotonic()
            if now - last >= 2 or i == args.steps - 1:
                last = now
                rate = (i + 1) / (now - t0)
                s = summary(m)
                print(f"hour {i + 1}/{args.steps}, {rate:,.0f} steps/s, ETA {(args.steps - i - 1) / rate:.0f}s: "
                      + ", ".join(f"{r.advertiser} ROAS {r.roas:.2f}" for r in s.itertuples()), flush=True)
    elapsed = time.monotonic() - t0
    s = summary(m)
    auctions = sum(float(r["auctions"][0]) for r in m.history)
    print(f"\n{args.steps:,} hours, {auctions:,.0f} auctions, {len(strategies)} advertisers, "
          f"{args.customers:,} customers in {elapsed:.1f} s ({auctions / elapsed:,.0f} auctions/s)")
    print(s.to_markdown(index=False, floatfmt=",.3f"))
    mix = m.history[-1]["stage_mix"]
    print("Stage mix at the end: " + ", ".join(f"{st.lower()} {100 * x:.1f}%" for st, x in zip(STAGES, mix)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
