"""Reading the session features table (``features/sessions.parquet``) whole, by split, or in batches.

The table is sorted by sessionId and every row keeps its position, so a per-row mask drawn once over all rows
(the validation slice) means the same rows whether a step reads the whole table or streams it batch by batch:
the training steps stream it (10M sessions do not have to fit in memory as one frame), the evaluation steps
read the holdout alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from models.common.streams import stream

# Rows per row group of the table: the unit the training steps read and shuffle.
ROW_GROUP_ROWS = 262_144


def validation_mask(n: int, seed: int, share: float = 0.15) -> np.ndarray:
    """The validation slice of the training rows: a seeded draw per row position over all ``n`` rows."""
    return stream(seed, "pricing.split").random(n) < share


def split_mask(path: str | Path, split: str) -> np.ndarray:
    """True at the positions of the rows of ``split`` (reads the split column alone)."""
    import pyarrow.compute as pc

    col = pq.read_table(path, columns=["split"]).column("split")
    return pc.equal(col, split).to_numpy(zero_copy_only=False)


def row_groups(path: str | Path, keep: np.ndarray, columns: list[str],
               rng: np.random.Generator | None = None) -> Iterator[pd.DataFrame]:
    """The rows at the ``keep`` positions, one Parquet row group at a time (in a shuffled group order if ``rng``);
    memory holds one row group whatever the table's size."""
    f = pq.ParquetFile(path)
    starts = np.cumsum([0] + [f.metadata.row_group(g).num_rows for g in range(f.num_row_groups)])
    order = range(f.num_row_groups) if rng is None else rng.permutation(f.num_row_groups)
    for g in order:
        m = keep[starts[g]:starts[g + 1]]
        if m.any():
            yield f.read_row_group(int(g), columns=columns).to_pandas()[m].reset_index(drop=True)


def gather(path: str | Path, keep: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """The rows at the ``keep`` positions as one frame, read a row group at a time."""
    parts = list(row_groups(path, keep, columns))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def with_truth(df: pd.DataFrame, truth_path: str | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``df`` and, for synthetic data, the ground truth of its sessions in the same row order."""
    if not truth_path:
        return df, None
    truth = pd.read_parquet(truth_path)
    aligned = df[["sessionId"]].merge(truth, on="sessionId", how="left", validate="one_to_one")
    return df, aligned


def load_sessions(state: dict[str, Any], split: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Session features (with split and label; one split alone if ``split``) and the truth aligned to them."""
    filters = [("split", "==", split)] if split else None
    df = pd.read_parquet(state["features_path"], filters=filters)
    return with_truth(df.reset_index(drop=True), state.get("truth_path"))


def truth_of_all_rows(state: dict[str, Any], column: str) -> np.ndarray:
    """One column of the ground truth for every row of the table, in table order (synthetic data only)."""
    ids = pd.read_parquet(state["features_path"], columns=["sessionId"])
    _, truth = with_truth(ids, state["truth_path"])
    return truth[column].to_numpy()
