"""The weekly geo x brand x SKU schema of the MMM data (Kaggle "mmm-weekly-data-geoindia"), checked.

The first column is ``Date`` (M/D/YYYY) in one copy and ``Week`` (YYYY-MM-DD) in another; both
are accepted and become ``week`` (a datetime).
"""

from __future__ import annotations

import pandas as pd

from models.common.errors import BadInputError

KEYS = ["Geo", "Brand", "SKU"]
MEDIA = ["TV_Impressions", "YouTube_Impressions", "Facebook_Impressions", "Instagram_Impressions",
         "Print_Readership", "Radio_Listenership"]
CHANNELS = ["TV", "YouTube", "Facebook", "Instagram", "Print", "Radio"]
NUMERIC = ["Sales_Units", "Sales_Value", "MRP", "Net_Price", "Feature_Flag", "Display_Flag", "TPR_Flag", "Trade_Spend",
           *MEDIA, "FB_Banner_Content_Score", "IG_Banner_Content_Score", "Weighted_Distribution",
           "Numeric_Distribution", "TDP", "NOS", "CPI", "GDP_Growth", "Festival_Index", "Rainfall_Index"]
COLUMNS = ["week", *KEYS, *NUMERIC]


class SchemaError(BadInputError):
    """The weekly file does not follow the schema; the message says which column and row."""


def parse_weekly(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """The weekly table as read from ``source`` (named in errors), with ``week`` parsed from ``Date``
    (M/D/YYYY) or ``Week`` (YYYY-MM-DD) and every numeric column checked."""
    if "Date" in df.columns:
        date_col, fmt = "Date", "%m/%d/%Y"
    elif "Week" in df.columns:
        date_col, fmt = "Week", "%Y-%m-%d"
    else:
        raise SchemaError(
            f"{source}: needs a 'Date' (M/D/YYYY) or 'Week' (YYYY-MM-DD) column, found {list(df.columns)[:5]}..."
        )
    week = pd.to_datetime(df[date_col], format=fmt, errors="coerce")
    if week.isna().any():
        row = int(week.isna().to_numpy().argmax())
        raise SchemaError(f"{source}: column {date_col!r} row {row + 2} is {df[date_col].iloc[row]!r}, not {fmt}")
    missing = [c for c in KEYS + NUMERIC if c not in df.columns]
    if missing:
        raise SchemaError(f"{source}: missing column(s) {missing}")
    out = df.drop(columns=[date_col]).assign(week=week)[COLUMNS]
    for col in NUMERIC:
        num = pd.to_numeric(out[col], errors="coerce")
        if num.isna().any():
            row = int(num.isna().to_numpy().argmax())
            val = out[col].iloc[row]
            shown = "empty (or an NA marker)" if pd.isna(val) else f"{val!r}, not a number"
            raise SchemaError(f"{source}: column {col!r} row {row + 2} is {shown}")
        out[col] = num.astype(float)
    return out
