"""Champion / challenger promotion in the MLflow model registry, as a transaction, shared by every pipeline.

MLflow has no compare-and-set on an alias, so promotion runs under one registry-wide lock
(:mod:`jobs.locks`): the champion is read, scored on this run's data and replaced without another
promotion in between, and the better of two racing models always ends as champion.

A promotion is all-or-nothing. Its versions are registered tagged ``promotion=pending``; a journal
(next to the lock) records the aliases about to move and where they pointed before; the aliases move;
the journal is marked committed; the versions are tagged ``promotion=done``. Whoever takes the lock
next (a rerun, another pipeline, ``python -m jobs doctor``) first recovers what a killed promotion
left: a committed journal is rolled forward, an uncommitted one rolled back (aliases restored, its
versions deleted), and pending versions without a journal (killed right after registering) deleted.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.failpoints import failpoint
from jobs.locks import file_lock, lock_dir
from models.common.errors import require_finite

log = logging.getLogger(__name__)

PROMOTION_TAG = "promotion"
ALIASES = ("champion", "challenger")


@dataclass(frozen=True)
class Candidate:
    """A logged model to register: its score on this run's data, and how to score the champion on the same data."""

    name: str
    model_uri: str
    score: float
    tags: Mapping[str, str]
    champion_score: Callable[[Any], float | None]  # the champion's ModelVersion -> its score here


def champion_version(client: Any, name: str) -> Any | None:
    """The model version under alias ``champion``, or None when there is none yet."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None


def tagged_score(version: Any) -> float | None:
    """The ``score`` tag a version was registered with (for models scored once, e.g. by their evaluation)."""
    return float(version.tags["score"]) if "score" in version.tags else None


def comparable_champion(name: str, champion_score: float | None) -> float | None:
    """The champion's score, or None (with a warning) when it is not finite: such a champion cannot be
    compared with, so the new, finite model replaces it instead of staying a challenger forever."""
    if champion_score is not None and not math.isfinite(champion_score):
        log.warning("registry: the %s champion's score is %s: it cannot be compared, the new model replaces it",
                    name, champion_score)
        return None
    return champion_score


def registry_lock_timeout_s() -> float:
    """How long a promotion waits for another one to finish: ``$PLATFORM_REGISTRY_LOCK_TIMEOUT_S`` (900)."""
    return float(os.environ.get("PLATFORM_REGISTRY_LOCK_TIMEOUT_S", "900"))


def journal_path() -> Path:
    """Where an unfinished promotion's journal lives (next to the registry lock)."""
    return lock_dir() / "registry-journal.json"


def registry_lock(what: str) -> Any:
    """The registry-wide lock every promotion and recovery holds."""
    return file_lock(lock_dir() / "registry.lock", registry_lock_timeout_s(), what)


def _write_journal(journal: dict[str, Any]) -> None:
    from jobs.paths import write_json

    write_json(journal_path(), journal)


def _aliases(client: Any, name: str) -> dict[str, int]:
    from mlflow.exceptions import MlflowException

    try:
        return {a: int(v) for a, v in client.get_registered_model(name).aliases.items()}
    except MlflowException:
        return {}


def _point(client: Any, name: str, alias: str, version: int | None) -> None:
    if version is None:
        client.delete_registered_model_alias(name, alias)
    else:
        client.set_registered_model_alias(name, alias, version)


def recover(client: Any) -> dict[str, Any]:
    """Finish or undo what a killed promotion left (call under the registry lock); returns what was done."""
    done: dict[str, Any] = {"rolled_forward": [], "rolled_back": [], "deleted_pending": []}
    path = journal_path()
    if path.exists():
        journal = json.loads(path.read_text())
        for m in journal["moves"]:
            if journal["state"] == "committed":
                _point(client, m["name"], m["alias"], m["version"])
                client.set_model_version_tag(m["name"], str(m["version"]), PROMOTION_TAG, "done")
                done["rolled_forward"].append(f"{m['name']} v{m['version']}@{m['alias']}")
            else:
                for alias in ALIASES:
                    if _aliases(client, m["name"]).get(alias) != m["previous"].get(alias):
                        _point(client, m["name"], alias, m["previous"].get(alias))
                done["rolled_back"].append(f"{m['name']} v{m['version']}")
        log.warning("registry: recovered the killed promotion of run %s (%s)", journal["run_id"], journal["state"])
        path.unlink()
    for mv in client.search_model_versions(f"tags.{PROMOTION_TAG} = 'pending'"):
        client.delete_model_version(mv.name, mv.version)
        done["deleted_pending"].append(f"{mv.name} v{mv.version}")
        log.warning("registry: deleted %s v%s, registered by a killed promotion (run %s)", mv.name, mv.version,
                    mv.tags.get("airflow.run_id", "?"))
    return done


def promote(candidates: Sequence[Candidate], run_id: str, joint: bool = False) -> dict[str, dict[str, Any]]:
    """Register each candidate as ``champion`` if its score is at least the champion's (or there is none),
    else as ``challenger``; with ``joint``, the candidates belong together: all become champions only if
    none is worse than its champion, else all become challengers.

    A non-finite score is refused (GateError, nothing registered). A champion whose score is not finite
    cannot be compared with: the new, finite model replaces it, with a warning.
    """
    import mlflow

    for c in candidates:
        require_finite(f"registering {c.name}", score=c.score)
    client = mlflow.MlflowClient()
    with registry_lock("promotion"):
        recover(client)
        decided: dict[str, dict[str, Any]] = {}
        for c in candidates:
            champ = champion_version(client, c.name)
            champ_score = comparable_champion(c.name, None if champ is None else c.champion_score(champ))
            decided[c.name] = {"model": c.name, "score": c.score, "champion_score": champ_score,
                               "wins": champ_score is None or c.score >= champ_score}
        group_wins = all(d["wins"] for d in decided.values())
        moves = []
        for c in candidates:
            wins = group_wins if joint else decided[c.name]["wins"]
            previous = _aliases(client, c.name)
            mv = mlflow.register_model(c.model_uri, c.name, tags={
                **c.tags, "score": f"{c.score:.6f}", "airflow.run_id": run_id, PROMOTION_TAG: "pending"})
            failpoint("registry.registered")
            moves.append({"name": c.name, "version": int(mv.version), "alias": "champion" if wins else "challenger",
                          "previous": {a: previous.get(a) for a in ALIASES}})
        journal = {"run_id": run_id, "state": "prepared", "moves": moves}
        _write_journal(journal)
        for m in moves:
            client.set_registered_model_alias(m["name"], m["alias"], m["version"])
            failpoint("registry.alias_set")
        _write_journal({**journal, "state": "committed"})
        failpoint("registry.committed")
        for m in moves:
            client.set_model_version_tag(m["name"], str(m["version"]), PROMOTION_TAG, "done")
        journal_path().unlink()
    if any(m["alias"] == "champion" for m in moves):
        notify_serving([m["name"] for m in moves if m["alias"] == "champion"])
    out = {}
    for m in moves:
        d = decided[m["name"]]
        out[m["name"]] = {**{k: d[k] for k in ("model", "score", "champion_score")}, "version": m["version"],
                          "alias": m["alias"]}
        log.info("registry: %s v%s -> @%s (score %.4f; champion %s)", m["name"], m["version"], m["alias"], d["score"],
                 "none" if d["champion_score"] is None else f"{d['champion_score']:.4f}")
    return out


def notify_serving(names: Sequence[str]) -> None:
    """Tell the online service (``$SERVING_URL``, when set) that champions moved, so it swaps now rather than at
    its next poll. Best effort: the promotion is done either way, and the service also polls the registry."""
    url = os.environ.get("SERVING_URL")
    if not url:
        return
    import requests

    key = os.environ.get("SERVING_API_KEY", "")
    try:
        resp = requests.post(f"{url.rstrip('/')}/v1/admin/reload", headers={"X-API-Key": key} if key else {},
                             timeout=30)
        resp.raise_for_status()
        log.info("serving at %s swapped %s", url, resp.json().get("swapped"))
    except requests.RequestException as exc:
        log.warning("could not notify the service at %s of new champions %s (it polls the registry): %s",
                    url, list(names), exc)


def register(model_uri: str, name: str, score: float, tags: Mapping[str, str], run_id: str,
             metric: str | None = None) -> dict[str, Any]:
    """Promote one model scored once (by its own evaluation): compared with the champion's ``score`` tag.

    With ``metric`` the version is tagged ``score_metric``, and a champion scored by another metric (or by
    none: registered before the metric was named) is not compared with: the new model replaces it, with a
    warning. A bidder scored by profit must not lose to a champion's ROAS, a number in other units.
    """
    if metric is None:
        return promote([Candidate(name, model_uri, score, tags, tagged_score)], run_id)[name]

    def champion_score(version: Any) -> float | None:
        theirs = version.tags.get("score_metric")
        if theirs != metric:
            log.warning("registry: the %s champion (v%s) was scored by %s, this model by %s: not comparable, "
                        "the new model replaces it", name, version.version, theirs or "an unnamed metric", metric)
            return None
        return tagged_score(version)

    return promote([Candidate(name, model_uri, score, {**tags, "score_metric": metric}, champion_score)],
                   run_id)[name]
