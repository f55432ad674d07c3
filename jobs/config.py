"""Profiles (smoke / demo / full) merged with user overrides into deeply immutable config dataclasses.

The profile YAML (``profiles/<pipeline>.yaml``) is the one source of every value: its ``defaults``
hold each knob once, a profile overrides some. The dataclass is the schema: names, types, checks
and the documentation of each knob; it has no defaults of its own.
"""

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


def _profile_doc(pipeline: str) -> dict[str, Any]:
    return yaml.safe_load((PROFILES_DIR / f"{pipeline}.yaml").read_text())


def profiles(pipeline: str, doc: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The profiles of ``pipeline``: every pipeline's smoke, demo and full, then any of its own that its YAML
    adds (market_rl_training's ``medium``). ``doc``: the YAML already read."""
    doc = _profile_doc(pipeline) if doc is None else doc
    return PROFILES + tuple(k for k in doc if k not in PROFILES and k != "defaults")


def load_profile(pipeline: str, profile: str) -> dict[str, Any]:
    """The values of ``profile`` in ``profiles/<pipeline>.yaml`` (shared ``defaults`` first)."""
    doc = _profile_doc(pipeline)
    known = profiles(pipeline, doc)
    if profile not in known:
        raise ValueError(f"profile must be one of {known} for {pipeline}, got {profile!r}")
    return {**doc.get("defaults", {}), **doc.get(profile, {})}


class FrozenDict(dict):
    """A dict that refuses changes: a config's mappings (channel CPMs, scenarios...) cannot drift at run time."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a config value is immutable; build a new config with overrides instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=repr)))

    def __deepcopy__(self, memo: dict) -> FrozenDict:
        return self

    def __reduce__(self) -> tuple:
        return (FrozenDict, (dict(self),))


def freeze(value: Any) -> Any:
    """``value`` with every dict made a :class:`FrozenDict` and every list a tuple, all the way down."""
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def build_config(cls: type[T], pipeline: str, profile: str, overrides: dict[str, Any] | None = None) -> T:
    """``cls`` from the profile, with non-None ``overrides`` (DAG Params, CLI ``--set``) on top, deeply frozen.

    An unknown key raises ``ValueError`` naming it, so a typo in a Param is not ignored; a knob the
    profile file does not set raises too, naming it.
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
    missing = set(names) - set(values)
    if missing:
        raise ValueError(f"profiles/{pipeline}.yaml sets no value for {sorted(missing)} (add them under defaults)")
    for key, val in values.items():  # CLI --set gives strings; coerce to the field's type
        typ = str(names[key].type)
        if isinstance(val, str) and typ in _COERCE:
            values[key] = _COERCE[typ](val)
        elif isinstance(val, str) and typ.startswith(("tuple", "Mapping")):  # --set geos='[CENTRAL]' or JSON
            values[key] = yaml.safe_load(val)
        elif typ == "float" and isinstance(val, int) and not isinstance(val, bool):
            values[key] = float(val)
    return cls(**{k: freeze(v) for k, v in values.items()})


_COERCE = {"int": int, "float": float, "bool": lambda v: v.strip().lower() in ("1", "true", "yes")}
