"""What-if CLI: predicted sales of spend plans from the registered ``mmm`` model, with intervals.

    python -m jobs.mmm.whatif --scale TV=1.2 --scale Radio:BrandA=0 --scale Facebook::SOUTH=0.5
    python -m jobs.mmm.whatif --plan plans.csv --model models:/mmm@challenger --interval 0.8

``--scale CHANNEL[:MEMBER[:MEMBER...]]=FACTOR`` (or ``--spend ...=AMOUNT``) is one scenario
that changes one channel, optionally for one member of each pooled level in the model's order
(geoindia: brand, then geo); ``--plan`` reads rows scenario, channel, one column per level
(lower-case: brand, geo...), spend | scale. Spend is over the model's reference quarter (its
last holdout weeks).
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from models.mmm.response import PlanError


def _row(spec: str, kind: str, levels: list[str]) -> dict[str, object]:
    key, sep, value = spec.rpartition("=")
    if not sep or not key:
        raise SystemExit(f"error: --{kind} needs CHANNEL[:MEMBER...]=VALUE, got {spec!r}")
    channel, *members = key.split(":")
    if len(members) > len(levels):
        raise SystemExit(f"error: --{kind} {spec!r}: {len(members)} members, the model's levels are "
                         f"{levels or 'none (one national series)'}")
    try:
        amount = float(value)
    except ValueError:
        raise SystemExit(f"error: --{kind} {spec!r}: {value!r} is not a number") from None
    return {"scenario": spec, "channel": channel, **dict(zip(levels, members)), kind: amount}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.mmm.whatif", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models:/mmm@champion")
    parser.add_argument("--plan", help="CSV of plan rows")
    parser.add_argument("--scale", action="append", default=[], metavar="CHANNEL[:MEMBER...]=FACTOR")
    parser.add_argument("--spend", action="append", default=[], metavar="CHANNEL[:MEMBER...]=AMOUNT")
    parser.add_argument("--interval", type=float, default=0.9)
    args = parser.parse_args(argv)
    if not (args.scale or args.spend or args.plan):
        parser.error("give --scale, --spend or --plan")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    from jobs.tracking import mlflow_setup

    mlflow_setup("mmm")
    model = mlflow.pyfunc.load_model(args.model)
    post = model.unwrap_python_model().post
    levels = [lv.lower() for lv in post.levels]
    rows = [_row(s, "scale", levels) for s in args.scale] + [_row(s, "spend", levels) for s in args.spend]
    plan = pd.DataFrame(rows)
    if args.plan:
        plan = pd.concat([plan, pd.read_csv(args.plan, dtype=dict.fromkeys(post.plan_columns(), str))],
                         ignore_index=True)
    for col in ("spend", "scale"):
        if col not in plan.columns:
            plan[col] = float("nan")
    try:
        table = model.predict(plan.fillna(dict.fromkeys(post.plan_columns(), "")), params={"interval": args.interval})
    except PlanError as exc:
        raise SystemExit(f"error: {exc}") from None
    pct = f"{args.interval:.0%}"
    cols = ["scenario", "spend", "value", "value_lo", "value_hi", "delta_value", "delta_value_lo", "delta_value_hi"]
    print(f"Predicted sales value over the reference quarter ({pct} intervals), model {args.model}:")
    print(table[cols].to_markdown(index=False, floatfmt=",.0f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
