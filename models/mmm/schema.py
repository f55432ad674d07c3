"""The weekly geo x brand x SKU schema of the MMM data (Kaggle "mmm-weekly-data-geoindia"), checked.

The first column is ``Date`` (M/D/YYYY) in one copy and ``Week`` (YYYY-MM-DD) in another; both
are accepted and become ``week`` (a datetime).
"""

from __future__ import annotations

import numpy as np
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
        raise SchemaError(f"{source}: column {date_col!r}, {_row(row)}: {str(df[date_col].iloc[row])[:40]!r} is not "
                          f"{fmt}")
    missing = [c for c in KEYS + NUMERIC if c not in df.columns]
    if missing:
        raise SchemaError(f"{source}: missing column(s) {missing}")
    out = df.drop(columns=[date_col]).assign(week=week)[COLUMNS]
    for col in NUMERIC:
        num = pd.to_numeric(out[col], errors="coerce")
        bad = ~np.isfinite(num.to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            row = int(bad.argmax())
            val = out[col].iloc[row]
            shown = "empty (or an NA marker)" if pd.isna(val) else f"{str(val)[:40]!r}, not a finite number"
            raise SchemaError(f"{source}: column {col!r}, {_row(row)}: {shown}")
        out[col] = num.astype(float)
    return out


def _row(position: int) -> str:
    # The CSV's header is line 1, so data row R is line R + 1.
    return f"row {position + 1:,} (line {position + 2:,})"
