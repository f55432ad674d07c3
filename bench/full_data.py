"""The full-size Avazu-schema fixture: ``make full-data`` (``python bench/full_data.py [--rows N]``).

Writes, with the project's own generator, as many rows as Kaggle's ``train`` file holds
(40,428,967; about 6.2 GB of CSV) to ``$BENCH_CACHE/full_<rows>/``: ``train.csv``, the same
bytes gzipped as ``train.gz`` (as Kaggle ships it) and ``ground_truth.parquet`` (each row's
true click probability, kept apart from the data). Streamed in 500k-row chunks: memory stays
flat at any size. Built once; a bench fixture, never committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import CACHE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
KAGGLE_ROWS = 40_428_967


def full_data(rows: int = KAGGLE_ROWS, seed: int = 42) -> Path:
    """The folder holding the fixture of ``rows`` rows (built on the first call)."""
    from jobs.avazu_ctr.config import load
    from jobs.avazu_ctr.ingest import write_synthetic

    out = CACHE / f"full_{rows}_{seed}"
    if not (out / "train.gz").exists():
        out.mkdir(parents=True, exist_ok=True)
        write_synthetic(load("full", {"synthetic_rows": rows, "seed": seed}), out, gzip_copy=True)
    return out


def main() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=KAGGLE_ROWS)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    out = full_data(args.rows, args.seed)
    for f in sorted(out.iterdir()):
        print(f"{f}  {f.stat().st_size / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
