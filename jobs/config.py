"""Profiles (smoke / demo / full) merged with user overrides into frozen config dataclasses."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
PROFILES = ("smoke", "demo", "full")

T = TypeVar("T")


def require(owner: str, checks: list[tuple[bool, str]]) -> None:
    """Raise ``ValueError("<owner>: <message>")`` for the first failed (condition, message) pair."""
    for ok, msg in checks:
        if not ok:
            raise ValueError(f"{owner}: {msg}")


def load_profile(pipeline: str, profile: str) -> dict[str, Any]:
    """The values of ``profile`` in ``profiles/<pipeline>.yaml`` (shared ``defaults`` first)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    doc = yaml.safe_load((PROFILES_DIR / f"{pipeline}.yaml").read_text())
    return {**doc.get("defaults", {}), **doc.get(profile, {})}


def build_config(cls: type[T], pipeline: str, profile: str, overrides: dict[str, Any] | None = None) -> T:
    """``cls`` from the profile, with non-None ``overrides`` (DAG Params, CLI ``--set``) on top.

    An unknown key raises ``ValueError`` naming it, so a typo in a Param is not ignored.
    """
    names = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {**load_profile(pipeline, profile), "profile": profile}
    for key, val in (overrides or {}).items():
        if key not in names:
            raise ValueError(f"unknown setting {key!r} for {pipeline}; known: {sorted(names)}")
        if val is not None:
            values[key] = val
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"profiles/{pipeline}.yaml has unknown keys {sorted(unknown)}")
    for key, val in values.items():  # CLI --set gives strings; coerce to the field's type
        typ = str(names[key].type)
        if isinstance(val, str) and typ in _COERCE:
            values[key] = _COERCE[typ](val)
        elif isinstance(val, str) and typ.startswith(("list", "dict")):  # --set geos='[CENTRAL]' or a JSON object
            values[key] = yaml.safe_load(val)
        elif typ == "float" and isinstance(val, int) and not isinstance(val, bool):
            values[key] = float(val)
    return cls(**values)


_COERCE = {"int": int, "float": float, "bool": lambda v: v.strip().lower() in ("1", "true", "yes")}
