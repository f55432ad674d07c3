"""Numbers formatted for people: thousands separators, percentages, 3 significant digits for ratios, intervals as
``1.38 [1.22, 1.54]``, and a reason instead of NaN."""

from __future__ import annotations

import math
from typing import Any

KINDS = ("money", "count", "ratio", "pct", "rate", "number", "flag")


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, kind: str = "number", na: str = "n/a") -> str:
    """One number: ``money`` and ``count`` with thousands separators (money with 2 decimals under 100), ``ratio``
    with 3 significant digits, ``pct`` and ``rate`` (fractions) as percentages with 3 significant digits,
    ``number`` with 4 significant digits, ``flag`` as yes / no; ``na`` where it is not a finite number (a flag
    without a value is empty)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "flag":
        return "" if not _finite(value) else ("yes" if float(value) else "no")
    if not _finite(value):
        return na
    v = float(value)
    if kind == "money":
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if kind == "count":
        return f"{v:,.0f}"
    if kind == "ratio":
        return _sig(v, 3)
    if kind in ("pct", "rate"):
        return f"{_sig(100 * v, 3)}%"
    return _sig(v, 4)


def _sig(v: float, digits: int) -> str:
    if v == 0:
        return "0"
    magnitude = int(math.floor(math.log10(abs(v))))
    decimals = max(digits - 1 - magnitude, 0)
    return f"{v:,.{decimals}f}"


def interval(mean: Any, lo: Any, hi: Any, kind: str = "number", na: str = "n/a") -> str:
    """``mean [lo, hi]``; the mean alone when the bounds are not finite (e.g. one seed), ``na`` without a mean."""
    if not _finite(mean):
        return na
    if not (_finite(lo) and _finite(hi)):
        return f"{fmt(mean, kind)} (no interval)"
    return f"{fmt(mean, kind)} [{fmt(lo, kind)}, {fmt(hi, kind)}]"


def undefined_note(undefined: Any, seeds: Any, what: str = "no denominator") -> str:
    """``n/a: <what> on 3 of 10 seeds`` style reason, or an empty string when every seed defined the value."""
    if not _finite(undefined) or int(undefined) == 0:
        return ""
    return f"{what} on {int(undefined)} of {int(seeds)} seeds"


def row_interval(row: Any, metric: str, kind: str = "number") -> str:
    """:func:`interval` of a table row's ``metric`` (or ``metric_mean``) and its ``_lo`` / ``_hi`` columns."""
    mean = row[metric] if metric in row else row[f"{metric}_mean"]
    return interval(mean, row[f"{metric}_lo"], row[f"{metric}_hi"], kind)
