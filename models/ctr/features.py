"""CTR features from raw Avazu rows, given encoding tables fitted on a training split.

The tables are *fitted* by aggregations in Spark (``jobs/avazu_ctr/features.py``); this
module *applies* them, vectorised. The same :func:`transform` runs inside the Spark job
(per Arrow batch) and inside the registered model at serving time, so training and
serving features cannot drift apart.

Features:
    hour_of_day, day_of_week          from ``hour`` (YYMMDDHH), Monday = 0
    banner_pos, device_type, device_conn_type, C1, C15, C16, C18   low-cardinality ints
    C14, C17, C19, C20, C21           integer codes kept as numbers
    site_category_code, app_category_code   rank of the value by training frequency (-1 = unseen)
    cnt_<id>, te_<id> for each id in ID_FIELDS: number of *other* training impressions with
        this value, and its smoothed click rate ``(clicks + m * prior) / (n + m)``. Training
        rows read the out-of-fold tables (column ``fold + 1``) so that no row sees its own
        click; holdout and serving rows read the full-training column 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

INT_FEATURES: tuple[str, ...] = (
    "banner_pos", "device_type", "device_conn_type", "C1", "C15", "C16", "C18",
    "C14", "C17", "C19", "C20", "C21",
)
TIME_FEATURES: tuple[str, ...] = ("hour_of_day", "day_of_week")
CODED_FIELDS: tuple[str, ...] = ("site_category", "app_category")
ID_FIELDS: tuple[str, ...] = (
    "site_id", "site_domain", "app_id", "app_domain", "device_model", "device_id", "device_ip", "C14", "C17",
)
CATEGORICAL: tuple[str, ...] = (
    "banner_pos", "device_type", "device_conn_type", "C1", "C15", "C16", "C18",
    "site_category_code", "app_category_code",
)
RAW_INPUTS: tuple[str, ...] = ("hour", *INT_FEATURES, *CODED_FIELDS, *(f for f in ID_FIELDS if f not in INT_FEATURES))
N_FOLDS = 5


def feature_names(use_id_encodings: bool) -> list[str]:
    """Model input columns, in order."""
    names = [*TIME_FEATURES, *INT_FEATURES, *(f"{c}_code" for c in CODED_FIELDS)]
    if use_id_encodings:
        for f in ID_FIELDS:
            names += [f"cnt_{f}", f"te_{f}"]
    return names


@dataclass
class IdTable:
    """Encodings of one id field.

    Attributes:
        values: the field's training values, as an Arrow string array (hash lookups).
        cnt: int64 array (len(values), 1): training impressions of the value (a training row counts the
            others: one less, whatever its fold).
        te: float64 array (len(values), n_cols): smoothed click rates, column 0 = full training, k + 1 = out
            of fold k.
    """

    values: pa.Array
    cnt: np.ndarray
    te: np.ndarray
    _index: pd.Index | None = field(default=None, init=False, repr=False, compare=False)

    def positions(self, keys: pa.Array) -> np.ndarray:
        """Row of each key in the table, -1 where unseen. The hash table over ``values`` is built on first use
        and kept: Arrow's ``index_in`` rebuilt it on every call, O(table) per batch, which made the features
        grow faster than the rows (millions of device_ip values hashed again for each 100k-row batch). It is
        keyed by 64-bit hashes of the strings (24 bytes a value where an index of Python strings took ~85:
        a Spark worker holds one per id field), and a hit counts only where the strings agree."""
        if self._index is None:
            hashes = _hash(self.values)
            # Two table values with one hash would shadow each other: then index the strings themselves.
            index = pd.Index(hashes)
            self._index = index if index.is_unique else pd.Index(self.values.to_numpy(zero_copy_only=False),
                                                                 dtype=object)
        if self._index.dtype == object:
            return self._index.get_indexer(pd.Index(keys.to_numpy(zero_copy_only=False), dtype=object))
        pos = self._index.get_indexer(_hash(keys))
        hit = np.flatnonzero(pos >= 0)
        same = pc.fill_null(pc.equal(self.values.take(pa.array(pos[hit])), keys.take(pa.array(hit))), False)
        pos[hit[~same.to_numpy(zero_copy_only=False)]] = -1  # a key that only shares a hash is unseen
        return pos

    def __getstate__(self) -> dict:
        # The hash table is rebuilt where the table lands (a Spark worker, a serving process), not shipped.
        return {**self.__dict__, "_index": None}


@dataclass
class EncodingTables:
    """Everything fitted on the training split that :func:`transform` needs.

    Attributes:
        prior: click rate of the training split (the encoding of unseen values).
        codes: coded field -> its values (Arrow strings) in code order: the position is the code.
        ids: id field -> :class:`IdTable` (empty when id encodings are off).
    """

    prior: float
    codes: dict[str, pa.Array] = field(default_factory=dict)
    ids: dict[str, IdTable] = field(default_factory=dict)

    @property
    def use_id_encodings(self) -> bool:
        return bool(self.ids)

    @classmethod
    def fit(cls, counts: pd.DataFrame | pa.Table, smoothing: float, n_folds: int = N_FOLDS) -> "EncodingTables":
        """Fit from training counts: rows ``field, value, fold, n, s`` (impressions, clicks).

        ``counts`` holds one row per field, value and fold of the *training split* (a Spark
        aggregation; an Arrow table, so that tens of millions of id values never become Python
        objects). Full-training stats sum over folds; the out-of-fold stats of fold k leave fold k
        out. A value seen once has cnt 0 and te = prior out of fold, the same as an unseen value.
        """
        table = counts if isinstance(counts, pa.Table) else pa.Table.from_pandas(counts, preserve_index=False)
        fields = table["field"]
        first = table.filter(pc.equal(fields, fields[0]))
        prior = float(pc.sum(first["s"]).as_py() / pc.sum(first["n"]).as_py())
        codes: dict[str, pa.Array] = {}
        ids: dict[str, IdTable] = {}
        for name in pc.unique(fields).to_pylist():  # in order of appearance
            g = table.filter(pc.equal(fields, name))
            totals = g.group_by("value").aggregate([("n", "sum"), ("s", "sum")])
            if name in CODED_FIELDS:
                order = pc.sort_indices(totals, [("n_sum", "descending"), ("value", "ascending")])
                codes[str(name)] = pc.cast(totals["value"].take(order).combine_chunks(), pa.string())
                continue
            totals = totals.take(pc.sort_indices(totals, [("value", "ascending")]))
            values = pc.cast(totals["value"].combine_chunks(), pa.string())
            n_all = totals["n_sum"].to_numpy().astype(np.int64)
            s_all = totals["s_sum"].to_numpy().astype(np.float64)
            # Out of fold k a value's stats lose its fold-k rows; where it has none they equal the full ones.
            te = np.repeat(((s_all + smoothing * prior) / (n_all + smoothing))[:, None], n_folds + 1, axis=1)
            rows = _positions(pc.cast(g["value"].combine_chunks(), pa.string()), values)
            n_k, s_k = g["n"].to_numpy().astype(np.int64), g["s"].to_numpy().astype(np.float64)
            te[rows, g["fold"].to_numpy().astype(np.int64) + 1] = (
                (s_all[rows] - s_k + smoothing * prior) / ((n_all[rows] - n_k).astype(np.float64) + smoothing))
            ids[str(name)] = IdTable(values, n_all[:, None], te)
        return cls(prior=prior, codes=codes, ids=ids)

    def serving_frames(self) -> dict[str, pd.DataFrame]:
        """The full-training part only (what serving needs), one small frame per field."""
        out = {c: pd.DataFrame({"value": v.to_pandas(), "code": np.arange(len(v), dtype=np.int32)})
               for c, v in self.codes.items()}
        for f, t in self.ids.items():  # Arrow -> pandas without a Python object per value
            out[f] = pd.DataFrame({"value": t.values.to_pandas(), "cnt": t.cnt[:, 0], "te": t.te[:, 0]})
        return out

    @classmethod
    def from_serving_frames(cls, frames: dict[str, pd.DataFrame], prior: float) -> "EncodingTables":
        """Inverse of :meth:`serving_frames`."""
        codes = {c: pa.array(frames[c].sort_values("code")["value"].to_numpy(), pa.string()) for c in CODED_FIELDS}
        ids = {f: IdTable(pa.array(frames[f]["value"].to_numpy(), pa.string()), frames[f][["cnt"]].to_numpy(np.int64),
                          frames[f][["te"]].to_numpy(np.float64)) for f in ID_FIELDS if f in frames}
        return cls(prior=prior, codes=codes, ids=ids)


def _hash(strings: pa.Array) -> np.ndarray:
    """64-bit hashes of Arrow strings (pandas' seeded SipHash: the same in every process)."""
    return pd.util.hash_array(strings.to_numpy(zero_copy_only=False), categorize=False)


def _positions(keys: pa.Array, values: pa.Array) -> np.ndarray:
    """Position of each key in ``values``, -1 where absent (an Arrow hash lookup)."""
    return pc.fill_null(pc.index_in(keys, value_set=values), -1).to_numpy(zero_copy_only=False)


def _keys(col: pd.Series) -> pa.Array:
    arr = pa.array(col)
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else pc.cast(arr, pa.string())


def transform(raw: pd.DataFrame, tables: EncodingTables, fold: np.ndarray | None = None) -> pd.DataFrame:
    """Model features for raw Avazu rows.

    Args:
        raw: rows with at least the columns in ``RAW_INPUTS`` (``id`` and ``click`` unused).
        tables: fitted encodings.
        fold: per-row out-of-fold index (0..N_FOLDS-1) for training rows, -1 for others;
            None means every row is scored with the full-training tables (serving).
    Raises:
        KeyError: naming the missing raw columns.
    """
    missing = [c for c in RAW_INPUTS if c not in raw.columns]
    if missing:
        raise KeyError(f"raw rows lack column(s) {missing}")
    hour = raw["hour"].to_numpy(np.int64)
    days = pd.to_datetime(20_000_000 + hour // 100, format="%Y%m%d")
    out = {"hour_of_day": (hour % 100).astype(np.int32), "day_of_week": np.asarray(days.dayofweek, dtype=np.int32)}
    for c in INT_FEATURES:
        out[c] = raw[c].to_numpy(np.int32)
    for c in CODED_FIELDS:
        out[f"{c}_code"] = _positions(_keys(raw[c]), tables.codes[c]).astype(np.int32)
    col = np.zeros(len(raw), dtype=np.int64) if fold is None else np.asarray(fold, dtype=np.int64) + 1
    for f, t in tables.ids.items():
        pos = t.positions(_keys(raw[f]))
        hit = pos >= 0
        safe = np.where(hit, pos, 0)
        out[f"cnt_{f}"] = np.where(hit, t.cnt[safe, 0] - (col > 0), 0)  # a training row is not its own other
        out[f"te_{f}"] = np.where(hit, t.te[safe, col], tables.prior)
    return pd.DataFrame(out, index=raw.index)[feature_names(tables.use_id_encodings)]
