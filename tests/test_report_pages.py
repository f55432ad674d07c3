"""Report pages: numbers for people, ratios with their reasons, one self-contained page."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from jobs.pages.format import fmt, interval, row_interval, undefined_note
from jobs.pages.render import Page, Section, formatted, render


def test_numbers_are_formatted_for_people() -> None:
    assert fmt(1234567.891, "money") == "1,234,568" and fmt(43.5, "money") == "43.50"
    assert fmt(18.7264, "ratio") == "18.7" and fmt(0.000123456, "ratio") == "0.000123"
    assert fmt(0.15935, "rate") == "15.9%" and fmt(0.00422, "pct") == "0.422%"
    assert fmt(12.0, "count") == "12" and fmt(float("nan"), "ratio") == "n/a" and fmt(None, "money") == "n/a"
    assert fmt(1.0, "flag") == "yes" and fmt(math.nan, "flag") == ""
    assert interval(1.3812, 1.2234, 1.5401, "ratio") == "1.38 [1.22, 1.54]"
    assert interval(2.0, math.nan, math.nan, "ratio") == "2.00 (no interval)"
    assert undefined_note(3, 10, "no spend") == "no spend on 3 of 10 seeds" and undefined_note(0, 10) == ""
    assert row_interval(pd.Series({"gain_mean": 5.0, "gain_lo": 1.0, "gain_hi": 9.0}), "gain", "money") == \
        "5.00 [1.00, 9.00]"
    with pytest.raises(ValueError, match="kind must be one of"):
        fmt(1.0, "euros")


def test_a_table_folds_intervals_and_says_why_a_ratio_is_missing() -> None:
    df = pd.DataFrame({"advertiser": ["a", "b"], "roas": [1.3812, math.nan], "roas_lo": [1.2234, math.nan],
                       "roas_hi": [1.5401, math.nan], "roas_undefined": [1, 3], "spend": [1234.5, 0.0],
                       "n_seeds": [3, 3]})
    out = formatted(df, {"spend": "money"}, {"roas": "ratio"}, {"roas": "ROAS"})
    assert list(out.columns) == ["advertiser", "ROAS", "spend", "n_seeds"]
    assert out.loc[0, "ROAS"] == "1.38 [1.22, 1.54] (no spend on 1 of 3 seeds)"
    assert out.loc[1, "ROAS"] == "n/a: no spend on 3 of 3 seeds" and out.loc[0, "spend"] == "1,234"


def test_a_page_is_self_contained_and_escapes_what_it_shows(tmp_path: Path) -> None:
    from jobs.plots import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png = save_png(fig, tmp_path / "line.png")
    page = Page("Title <b>", "sub", ["first <script>", "second", "third"],
                [Section("Plot", "text", [png], pd.DataFrame({"x": ["1"]}))],
                {"Wide table": pd.DataFrame({f"c{i}": [i] for i in range(40)})})
    html = render(page)
    assert "<script>" not in html and "first &lt;script&gt;" in html and "Title &lt;b&gt;" in html
    assert html.count("data:image/png;base64,") == 1 and "data:text/csv;base64," in html
    assert "<details>" in html and "<link" not in html  # the stylesheet is inline: one file
