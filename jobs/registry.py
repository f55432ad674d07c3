"""Champion / challenger registration in the MLflow model registry, shared by every pipeline."""

from __future__ import annotations

import logging
from typing import Any

from models.common.errors import require_finite

log = logging.getLogger(__name__)


def champion_version(client: Any, name: str) -> Any | None:
    """The model version under alias ``champion``, or None when there is none yet."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None


def comparable_champion(name: str, champion_score: float | None) -> float | None:
    """The champion's score, or None (with a warning) when it is not finite: such a champion cannot be
    compared with, so the new, finite model replaces it instead of staying a challenger forever."""
    import math

    if champion_score is not None and not math.isfinite(champion_score):
        log.warning("registry: the %s champion's score is %s: it cannot be compared, the new model replaces it",
                    name, champion_score)
        return None
    return champion_score


def register(
    model_uri: str, name: str, score: float, champion_score: float | None, tags: dict[str, str]
) -> dict[str, Any]:
    """Register ``model_uri`` as ``name``; alias ``champion`` if its score is at least the champion's
    on the same data (or there is no champion), else ``challenger``.

    A non-finite score is refused (GateError, nothing registered). A champion whose recorded score is
    not finite cannot be compared with: the new, finite model replaces it, with a warning.
    """
    import mlflow

    require_finite(f"registering {name}", score=score)
    champion_score = comparable_champion(name, champion_score)
    client = mlflow.MlflowClient()
    alias = "champion" if champion_score is None or score >= champion_score else "challenger"
    mv = mlflow.register_model(model_uri, name, tags={**tags, "score": f"{score:.6f}"})
    client.set_registered_model_alias(name, alias, mv.version)
    log.info("registry: %s v%s -> @%s (score %.4f; champion %s)", name, mv.version, alias, score,
             "none" if champion_score is None else f"{champion_score:.4f}")
    return {"model": name, "version": int(mv.version), "alias": alias, "score": score, "champion_score": champion_score}
