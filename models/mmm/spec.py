"""The MMM's data specification: which columns hold the date, the target, the hierarchy, the media and the controls.

A user describes their own file instead of reshaping it into one layout (as Meridian's
``CoordToColumns``, PyMC-Marketing's ``date_column`` / ``channel_columns`` / ``control_columns``
and Robyn's ``InputCollect`` do):

- ``date``: the column (and its strptime format; ISO 8601 when empty); several candidates may be
  given, the first one present is used; ``frequency`` is ``W`` (weekly) or ``D`` (daily);
- ``target``: sales units with a ``price`` column (value = units x price), or sales value when
  ``price`` is empty;
- ``hierarchy``: the columns that identify a series (none for one national series, or any number
  of levels, e.g. geo, brand, SKU); ``pooling``: the levels whose media effects are partially
  pooled around the national effect (default: every hierarchy level);
- ``channels``: each with a volume column (impressions, GRPs, clicks) and a spend column, or a
  cost per thousand (``cpm``) that turns volume into spend, or only a spend column (spend is the
  media variable); optionally an ROI prior (mean, sd), e.g. from a lift test;
- ``controls``: columns of the baseline with their transform; a control marked ``confounder``
  gets a wide prior on its effect, so the model does not shrink it and leave its effect to a
  channel that moves with it;
- ``levels`` and ``gate_level``: the aggregations the holdout is scored at, and the one the
  registration gate reads.

``PRESETS`` holds named specifications; ``geoindia`` (Kaggle's mmm-weekly-data-geoindia) is the
default. Presets with no channels find them in the file: every ``<name>_spend`` column is a
channel, with ``<name>_impressions`` as its volume when present.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.common.errors import BadInputError

TRANSFORMS = ("identity", "log", "log1p", "log_ratio")
FREQUENCIES = {"W": 7, "D": 1}  # days between periods
PERIODS_PER_YEAR = {"W": 365.25 / 7, "D": 365.25}


class SpecError(BadInputError):
    """A data specification, or a file read with it, is wrong; the message names the field or column."""


@dataclass(frozen=True)
class Channel:
    """One media channel: its volume column and / or its spend column (or a cost per thousand)."""

    name: str
    volume: str = ""
    spend: str = ""
    cpm: float = 0.0
    roi_prior: tuple[float, float] | None = None

    @property
    def media_column(self) -> str:
        """The column the model's adstock and saturation read."""
        return self.volume or self.spend


@dataclass(frozen=True)
class Control:
    """A baseline regressor: ``transform(column)`` (``log_ratio``: log(column / over); ``log`` and
    ``log1p`` divide by ``scale`` first)."""

    column: str
    transform: str = "identity"
    name: str = ""
    scale: float = 1.0
    over: str = ""
    confounder: bool = False

    @property
    def label(self) -> str:
        return self.name or f"{self.transform}_{self.column}"


@dataclass(frozen=True)
class DataSpec:
    """Where each quantity of the model is in the user's file (see the module docstring)."""

    date: Mapping[str, str]
    target: str
    channels: tuple[Channel, ...]
    price: str = ""
    frequency: str = "W"
    hierarchy: tuple[str, ...] = ()
    pooling: tuple[str, ...] | None = None
    controls: tuple[Control, ...] = ()
    seasonality: int = 2
    levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    gate_level: str = ""

    @property
    def pooled(self) -> tuple[str, ...]:
        return self.hierarchy if self.pooling is None else self.pooling

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def report_levels(self) -> dict[str, list[str]]:
        """Aggregation name -> columns: the series, each pooled level, national (or the spec's own)."""
        if self.levels:
            return {k: list(v) for k, v in self.levels.items()}
        out: dict[str, list[str]] = {}
        if self.hierarchy:
            out["series"] = list(self.hierarchy)
        for col in self.pooled:
            if [col] != list(self.hierarchy):
                out[col.lower()] = [col]
        out["national"] = []
        return out

    @property
    def gate(self) -> str:
        return self.gate_level or "national"

    def value_columns(self) -> list[str]:
        """Every numeric column the spec reads."""
        cols = [self.target, *([self.price] if self.price else [])]
        for ch in self.channels:
            cols += [c for c in (ch.volume, ch.spend) if c]
        for ctl in self.controls:
            cols += [c for c in (ctl.column, ctl.over) if c]
        return list(dict.fromkeys(cols))

    def check(self) -> None:
        """The specification itself is consistent (before any data is read); SpecError names the field."""
        problems = []
        if self.frequency not in FREQUENCIES:
            problems.append(f"frequency must be one of {sorted(FREQUENCIES)}, got {self.frequency!r}")
        if not self.date:
            problems.append("date needs a column")
        if not self.target:
            problems.append("target needs a column")
        names = self.names
        if len(set(names)) != len(names):
            problems.append(f"channel names repeat: {names}")
        for ch in self.channels:
            if not ch.media_column:
                problems.append(f"channel {ch.name!r} needs a volume or a spend column")
            if not ch.spend and not ch.cpm > 0:
                problems.append(f"channel {ch.name!r} has no spend column, so it needs a positive cpm")
            if ch.roi_prior is not None and not (len(ch.roi_prior) == 2 and ch.roi_prior[0] > 0 < ch.roi_prior[1]):
                problems.append(f"channel {ch.name!r}: roi_prior is [mean > 0, sd > 0], got {ch.roi_prior}")
        for ctl in self.controls:
            if ctl.transform not in TRANSFORMS:
                problems.append(f"control {ctl.column!r}: transform must be one of {TRANSFORMS}, "
                                f"got {ctl.transform!r}")
            if (ctl.transform == "log_ratio") != bool(ctl.over):
                problems.append(f"control {ctl.column!r}: 'over' goes with transform log_ratio (and only with it)")
            if not ctl.scale > 0:
                problems.append(f"control {ctl.column!r}: scale must be > 0")
        unknown = [c for c in self.pooled if c not in self.hierarchy]
        if unknown:
            problems.append(f"pooling levels {unknown} are not hierarchy columns {list(self.hierarchy)}")
        if self.gate not in self.report_levels:
            problems.append(f"gate_level {self.gate!r} is not one of the levels {list(self.report_levels)}")
        if self.seasonality < 0:
            problems.append("seasonality (Fourier harmonics) must be >= 0")
        if problems:
            raise SpecError("data spec: " + "; ".join(problems))


GEOINDIA_CPM = {"TV": 3.0, "YouTube": 2.0, "Facebook": 1.5, "Instagram": 1.5, "Print": 4.0, "Radio": 1.0}
GEOINDIA = DataSpec(
    date={"Date": "%m/%d/%Y", "Week": "%Y-%m-%d"},
    target="Sales_Units",
    price="Net_Price",
    hierarchy=("Geo", "Brand", "SKU"),
    pooling=("Brand", "Geo"),
    channels=tuple(
        Channel(name, volume=col, cpm=GEOINDIA_CPM[name]) for name, col in
        [("TV", "TV_Impressions"), ("YouTube", "YouTube_Impressions"), ("Facebook", "Facebook_Impressions"),
         ("Instagram", "Instagram_Impressions"), ("Print", "Print_Readership"), ("Radio", "Radio_Listenership")]
    ),
    controls=(
        Control("Weighted_Distribution", "log", "log_distribution"),
        Control("Trade_Spend", "log1p", "log_trade_spend", scale=1000.0),
        Control("CPI", "log", "log_cpi", scale=100.0),
        Control("Festival_Index", "log", "log_festival"),
        Control("Net_Price", "log_ratio", "log_price_ratio", over="MRP"),
        Control("Feature_Flag", name="feature"),
        Control("Display_Flag", name="display"),
    ),
    levels={"row": ("Geo", "Brand", "SKU"), "geo_brand": ("Geo", "Brand"), "brand_national": ("Brand",),
            "national": ()},
    gate_level="brand_national",
)
# One national series of sales value, channels found from their <name>_spend columns.
NATIONAL = DataSpec(date={"date": ""}, target="sales", channels=())
PRESETS = {"geoindia": GEOINDIA, "national": NATIONAL}


def from_config(preset: str, overrides: Mapping[str, Any] | None = None) -> DataSpec:
    """The preset's spec with ``overrides`` (the config's / DAG Param's ``data_spec``: any field; channels and
    controls as lists of mappings, ``date`` as a column name or a column -> format mapping)."""
    if preset not in PRESETS:
        raise SpecError(f"data_preset must be one of {sorted(PRESETS)}, got {preset!r}")
    over = dict(overrides or {})
    fields = {f.name for f in dataclasses.fields(DataSpec)}
    unknown = sorted(set(over) - fields)
    if unknown:
        raise SpecError(f"data_spec: unknown field(s) {unknown}; fields: {sorted(fields)}")
    if isinstance(over.get("date"), str):
        over["date"] = {over["date"]: ""}
    try:
        if "channels" in over:
            over["channels"] = tuple(
                Channel(**{**c, "roi_prior": tuple(c["roi_prior"]) if c.get("roi_prior") else None})
                for c in over["channels"])
        if "controls" in over:
            over["controls"] = tuple(Control(**c) for c in over["controls"])
    except TypeError as exc:
        raise SpecError(f"data_spec: {exc}") from None
    for key in ("hierarchy", "pooling"):
        if over.get(key) is not None:
            over[key] = tuple(over[key])
    if "levels" in over:
        over["levels"] = {k: tuple(v) for k, v in over["levels"].items()}
    if "hierarchy" in over and "levels" not in over:  # the preset's levels name the preset's hierarchy
        over = {"levels": {}, "gate_level": "", **over}
    return dataclasses.replace(PRESETS[preset], **over)


def with_channels(spec: DataSpec, columns: list[str], roi_priors: Mapping[str, Any] | None = None) -> DataSpec:
    """A spec without channels gets them from ``columns``: ``<name>_spend`` (and ``<name>_impressions``)."""
    if spec.channels:
        return spec
    names = [c[: -len("_spend")] for c in columns if c.endswith("_spend") and len(c) > len("_spend")]
    if not names:
        raise SpecError(f"data spec has no channels and the file has no <name>_spend column: {columns[:12]}")
    found = tuple(Channel(n, volume=f"{n}_impressions" if f"{n}_impressions" in columns else "", spend=f"{n}_spend")
                  for n in names)
    return dataclasses.replace(spec, channels=found)


def with_cpm(spec: DataSpec, cpm: Mapping[str, float]) -> DataSpec:
    """The spec with the config's ``cpm`` (channel -> cost per 1,000 volume units) applied; SpecError names an
    unknown channel."""
    unknown = sorted(set(cpm) - set(spec.names))
    if unknown:
        raise SpecError(f"cpm names channel(s) {unknown} the data spec does not have; channels: {spec.names}")
    return dataclasses.replace(
        spec, channels=tuple(dataclasses.replace(c, cpm=float(cpm.get(c.name, c.cpm))) for c in spec.channels))


def date_column(spec: DataSpec, columns: list[str], source: str) -> tuple[str, str]:
    """(column, format) of the first date candidate present in ``columns``."""
    for col, fmt in spec.date.items():
        if col in columns:
            return col, fmt
    wanted = " or ".join(f"{c!r} ({f or 'ISO 8601'})" for c, f in spec.date.items())
    raise SpecError(f"{source}: needs a date column {wanted}, found {columns[:8]}...")


def parse(df: pd.DataFrame, spec: DataSpec, source: str, numeric: tuple[str, ...] = ()) -> pd.DataFrame:
    """The file's rows with ``week`` (the period's date, parsed) in place of the date column, the hierarchy as
    strings and every column the spec reads (and ``numeric``) checked to be a finite number; SpecError names the
    column and row."""
    col, fmt = date_column(spec, list(df.columns), source)
    week = pd.to_datetime(df[col], format=fmt or "ISO8601", errors="coerce")
    if week.isna().any():
        row = int(week.isna().to_numpy().argmax())
        raise SpecError(f"{source}: column {col!r}, {_row(row)}: {str(df[col].iloc[row])[:40]!r} is not "
                        f"{fmt or 'an ISO 8601 date'}")
    values = list(dict.fromkeys([*spec.value_columns(), *numeric]))
    needed = [*spec.hierarchy, *values]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise SpecError(f"{source}: missing column(s) {missing} (named by the data spec)")
    rest = df.drop(columns=[col])
    out = pd.concat([week.rename("week"), rest], axis=1)  # the date first, then the file's columns in its order
    for c in values:
        num = pd.to_numeric(out[c], errors="coerce")
        bad = ~np.isfinite(num.to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            row = int(bad.argmax())
            val = out[c].iloc[row]
            shown = "empty (or an NA marker)" if pd.isna(val) else f"{str(val)[:40]!r}, not a finite number"
            raise SpecError(f"{source}: column {c!r}, {_row(row)}: {shown}")
        out[c] = num.astype(float)
    for c in spec.hierarchy:
        out[c] = out[c].astype(str)
    return out


def media_problems(df: pd.DataFrame, spec: DataSpec) -> list[str]:
    """Channels the model cannot estimate: media that are all zero or never change (their scale would be 0 or
    their effect indistinguishable from the level)."""
    problems = []
    for ch in spec.channels:
        x = df[ch.media_column].to_numpy(np.float64)
        if not (x > 0).any():
            problems.append(f"channel {ch.name!r}: column {ch.media_column!r} is zero in every row")
        elif np.ptp(x) == 0:
            problems.append(f"channel {ch.name!r}: column {ch.media_column!r} is the same in every row ({x[0]:g})")
    return problems


def suite(spec: DataSpec, name: str = "mmm_data") -> dict[str, Any]:
    """A Great Expectations suite (the JSON layout of ``expectations/``) generated from the spec: keys not null
    and unique per period, media / spend / target non-negative, price positive, log-transformed controls
    positive."""
    exp: list[dict[str, Any]] = [{"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}]
    for col in ["week", *spec.hierarchy]:
        exp.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": col}})
    exp.append({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["week", *spec.hierarchy]}}
               if spec.hierarchy else {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "week"}})
    nonneg = [spec.target, *[c for ch in spec.channels for c in (ch.volume, ch.spend) if c]]
    positive = [spec.price] if spec.price else []
    for ctl in spec.controls:
        if ctl.transform in ("log", "log_ratio"):
            positive += [c for c in (ctl.column, ctl.over) if c]
        elif ctl.transform == "log1p":
            nonneg.append(ctl.column)
    for col in dict.fromkeys(nonneg):
        exp.append({"type": "expect_column_values_to_be_between", "kwargs": {"column": col, "min_value": 0}})
    for col in dict.fromkeys(positive):
        exp.append({"type": "expect_column_values_to_be_between",
                    "kwargs": {"column": col, "min_value": 0, "strict_min": True}})
    return {"name": name, "meta": {"notes": {"format": "markdown", "content": [
        "Generated from the mmm data specification (models/mmm/spec.py)."]}}, "expectations": exp}


def _row(position: int) -> str:
    # The CSV's header is line 1, so data row R is line R + 1.
    return f"row {position + 1:,} (line {position + 2:,})"
