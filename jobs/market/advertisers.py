"""The scripted advertisers of the market (``profiles/market_advertisers.yaml``), read in one place."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ADVERTISERS_YAML = Path(__file__).resolve().parents[1] / "profiles" / "market_advertisers.yaml"


@lru_cache(maxsize=4)
def _read(path: Path) -> dict[str, dict[str, Any]]:
    return yaml.safe_load(path.read_text())


def load_advertisers(path: Path = ADVERTISERS_YAML) -> dict[str, dict[str, Any]]:
    """Name -> spec of every scripted advertiser, in file order (a fresh copy: callers may change it)."""
    return {name: dict(spec) for name, spec in _read(Path(path)).items()}


def advertiser_names(path: Path = ADVERTISERS_YAML) -> list[str]:
    """The advertisers' names in file order."""
    return list(_read(Path(path)))


