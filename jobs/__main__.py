"""CLI: ``python -m jobs PIPELINE [--profile P] [--set key=value ...] [--until STEP]``,
or ``python -m jobs market_demo [...]`` (the live retargeting-market demo),
or ``python -m jobs doctor [--dry-run]`` (clean up after killed tasks: jobs/doctor.py).

Runs a pipeline's steps in order without Airflow, with the same MLflow logging, and
prints the final state as JSON. ``python -m jobs avazu_ctr --profile smoke`` is the
quickest end-to-end check.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from jobs.hashseed import run_with_fixed_hash_seed
from jobs.runner import PIPELINES, run_pipeline


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if argv is None:  # the command line, not a caller in this process
        run_with_fixed_hash_seed(["-m", "jobs", *args_in])
    if args_in[:1] == ["market_demo"]:  # a simulation, not a pipeline of steps
        from jobs.market_demo import main as market_demo

        return market_demo(args_in[1:])
    if args_in[:1] == ["doctor"]:  # housekeeping after killed tasks, not a pipeline
        from jobs.doctor import main as doctor

        return doctor(args_in[1:])
    parser = argparse.ArgumentParser(prog="python -m jobs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline", choices=PIPELINES)
    parser.add_argument("--profile", default="demo",
                        help="smoke | demo | full, or one a pipeline's profile file adds (market_rl_training: medium)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--until", help="stop after this step")
    parser.add_argument("--run-id", help="run id (default: a new cli__<timestamp> id)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set needs KEY=VALUE, got {item!r}")
        overrides[key] = value
    state = run_pipeline(args.pipeline, args.profile, overrides, args.run_id, args.until)
    json.dump(state, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
