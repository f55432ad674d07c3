"""One page per report: headline findings first, then figures next to the tables they explain, then details
(wide tables collapsed, each downloadable as CSV). Figures and the stylesheet are embedded, so the page is one
self-contained file that MLflow serves as an artifact."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.pages.format import fmt, interval, undefined_note
from models.common.intervals import RATIOS

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Section:
    """A heading, a sentence or two, figures and the table they explain (already formatted)."""

    title: str
    text: str = ""
    figures: list[Path] = field(default_factory=list)
    table: pd.DataFrame | None = None
    code: str = ""  # preformatted text, e.g. decision rules


@dataclass
class Page:
    """What a report page shows, in reading order."""

    title: str
    subtitle: str
    findings: list[str]
    sections: list[Section] = field(default_factory=list)
    details: dict[str, pd.DataFrame] = field(default_factory=dict)


def formatted(df: pd.DataFrame, kinds: dict[str, str], intervals: dict[str, str] | None = None,
              rename: dict[str, str] | None = None) -> pd.DataFrame:
    """``df`` with numbers as strings for people: each column in ``kinds`` by its kind, each metric in ``intervals``
    (metric -> kind) as ``mean [lo, hi]`` from its ``_lo`` / ``_hi`` columns (which are then dropped), and the
    ``<metric>_undefined`` counts folded in as "n/a: ..." reasons."""
    out = df.copy()
    for metric, kind in (intervals or {}).items():
        if metric not in out.columns:
            continue
        values = [interval(m, lo, hi, kind) for m, lo, hi in zip(out[metric], out[f"{metric}_lo"], out[f"{metric}_hi"])]
        if f"{metric}_undefined" in out.columns and "n_seeds" in out.columns:
            what = f"no {RATIOS.get(metric.removeprefix('market_'), ('', 'denominator'))[1]}"
            values = [_with_reason(v, u, n, what) for v, u, n in
                      zip(values, out[f"{metric}_undefined"], out["n_seeds"])]
        out[metric] = values
        out = out.drop(columns=[c for c in (f"{metric}_lo", f"{metric}_hi", f"{metric}_undefined") if c in out])
    for col, kind in kinds.items():
        if col in out.columns:
            out[col] = [fmt(v, kind) for v in out[col]]
    return out.rename(columns=rename or {})


def _with_reason(value: str, undefined: Any, seeds: Any, what: str) -> str:
    """A ratio's text with how many seeds had no denominator ("no spend on 1 of 3 seeds"): "n/a: ..." when none
    had one."""
    note = undefined_note(undefined, seeds, what)
    if not note:
        return value
    return f"n/a: {note}" if value == "n/a" else f"{value} ({note})"


def image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}">'


def csv_link(name: str, df: pd.DataFrame) -> str:
    data = base64.b64encode(df.to_csv(index=False).encode()).decode()
    return (f'<a download="{html.escape(name)}.csv" href="data:text/csv;base64,{data}">'
            f"download {html.escape(name)}.csv</a>")


def render(page: Page) -> str:
    """The page as HTML (Jinja2 template ``report.html`` with ``report.css`` inlined)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    sections = [{"title": s.title, "text": s.text, "code": s.code, "figures": [image(f) for f in s.figures],
                 "table": None if s.table is None else s.table.to_html(index=False, classes="data", border=0)}
                for s in page.sections]
    details = [{"title": t, "table": df.to_html(index=False, classes="data wide", border=0,
                                                float_format=lambda v: fmt(v, "number"), na_rep="n/a"),
                "csv": csv_link(_slug(t), df)} for t, df in page.details.items() if not df.empty]
    return env.get_template("report.html").render(page=page, sections=sections, details=details,
                                                  css=(TEMPLATES / "report.css").read_text())


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in title.lower()).strip("_")[:60]


def write(page: Page, path: Path) -> Path:
    """Render ``page`` to ``path`` atomically."""
    from jobs.paths import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(render(page))
    return path

