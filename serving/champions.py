"""The champions the service acts on, loaded by alias from the MLflow registry and swapped without a restart.

All models live in one immutable :class:`Bundle`; a request takes the current bundle once and uses only it,
so no response mixes versions, and a swap (a new bundle built off to the side, then one reference
assignment) never blocks or drops a request. A model that fails to load leaves the previous one serving.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
# The native models get arrays in the signature's column order (checked against the pyfunc at load), so
# scikit-learn's reminder that they were fitted on named columns is noise, once per call.
warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)

MODELS = ("agent_classifier", "pricing_rules", "ctr_lightgbm", "banner_policy")
ALIAS = "champion"


@dataclass(frozen=True)
class Loaded:
    """One registered model version, loaded. ``predict`` takes a 2-D array whose columns are ``columns`` (the
    signature's inputs, in order) and is the fastest path that gives the pyfunc's numbers."""

    name: str
    version: str
    model: Any
    run_id: str
    columns: tuple[str, ...]
    predict: Callable[[Any], Any]


def fast_predict(model: Any, rows: int = 64, seed: int = 0) -> tuple[tuple[str, ...], Callable[[Any], Any]]:
    """(input columns, predict on a 2-D array of them): for one row a compiled walk of the trees
    (:mod:`serving.compiled`), for more the native model's predict, each used only when it equals the pyfunc's
    on random rows (a tenth of them missing); else the pyfunc's own predict on a frame of those columns. A
    one-row pyfunc call costs ~4 ms of frame building and schema checks, the walk 7-55 us."""
    import numpy as np
    import pandas as pd

    from serving.compiled import tree_walk, xgboost_walk

    try:
        names = tuple(model.metadata.get_input_schema().input_names())
    except Exception:
        names = ()

    def pyfunc(x: Any) -> Any:
        return model.predict(pd.DataFrame(x, columns=list(names)))

    try:
        raw = model.get_raw_model()
    except Exception:  # a python model: nothing faster to trust
        return names, pyfunc
    if not names:
        return names, pyfunc
    if type(raw).__module__.startswith("xgboost"):
        raw.set_param({"nthread": 1})  # a thread pool only adds its spin-waiting
        walk = xgboost_walk(raw)

        def batch(x: Any) -> Any:
            return raw.inplace_predict(np.asarray(x, dtype=float))
    elif type(raw).__module__.startswith("sklearn"):
        walk = tree_walk(raw)

        def batch(x: Any) -> Any:
            return raw.predict(np.asarray(x, dtype=float))
    else:
        return names, pyfunc
    x = np.random.default_rng(seed).uniform(0, 5, (rows, len(names)))
    x[np.random.default_rng(seed + 1).random(x.shape) < 0.1] = np.nan
    try:
        want = np.asarray(pyfunc(x)).ravel()
        if not _same(want, np.asarray(batch(x)).ravel()):
            return names, pyfunc
        if walk is None or not _same(want, np.asarray([walk(r) for r in x]).ravel()):
            return names, batch
    except Exception as exc:  # e.g. a signature that refuses missing values: trust only the pyfunc
        log.info("no fast path for %s: %s", names, exc)
        return names, pyfunc

    def native(x: Any) -> Any:
        return [walk(x[0])] if len(x) == 1 else batch(x)

    return names, native


def _same(want: Any, got: Any) -> bool:
    import numpy as np

    if want.dtype.kind in "fiu":
        return bool(np.allclose(want.astype(float), got.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True))
    return bool((want == got).all())


@dataclass(frozen=True)
class Bundle:
    """The champions of one moment; ``models`` maps a registered name to its loaded version."""

    models: dict[str, Loaded] = field(default_factory=dict)

    def get(self, name: str) -> Loaded:
        """The loaded champion ``name``; :class:`MissingChampion` when the registry has none (or it never loaded)."""
        if name not in self.models:
            raise MissingChampion(name)
        return self.models[name]

    def versions(self) -> dict[str, str]:
        return {name: m.version for name, m in self.models.items()}


class MissingChampion(LookupError):
    """No ``champion`` alias (or no loadable version) for a model the request needs."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no champion for registered model {name!r}: run the pipeline that registers it "
                         f"(or set its 'champion' alias in the MLflow registry)")
        self.name = name


def conform(model: Any, rows: Any) -> Any:
    """``rows`` (a DataFrame) reduced to the model signature's columns, cast to its types: JSON and CSV numbers
    arrive as int64/float64 where a signature may say int32, which the pyfunc refuses as unsafe. A value that
    does not fit raises (ValueError, TypeError or OverflowError)."""
    schema = model.metadata.get_input_schema()
    names = schema.input_names()
    return rows[names].astype(dict(zip(names, schema.pandas_types())))


def _load_pyfunc(uri: str) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(uri)


class Champions:
    """Holds the current :class:`Bundle`; :meth:`refresh` swaps in the versions the aliases point at now."""

    def __init__(self, names: tuple[str, ...] = MODELS, loader: Callable[[str], Any] = _load_pyfunc,
                 on_swap: Callable[[str, str], None] | None = None,
                 on_failure: Callable[[str, str], None] | None = None) -> None:
        self.names, self.loader = names, loader
        self.bundle = Bundle()
        self._lock = threading.Lock()  # one refresh at a time (the poller and a notification may race)
        self._on_swap = on_swap or (lambda name, version: None)
        self._on_failure = on_failure or (lambda name, version: None)
        self.failed: dict[str, str] = {}  # name -> version that failed to load (not retried until the alias moves)

    def _aliases(self, client: Any) -> dict[str, Any]:
        from mlflow.exceptions import MlflowException

        out = {}
        for name in self.names:
            try:
                out[name] = client.get_model_version_by_alias(name, ALIAS)
            except MlflowException:
                continue  # no such model or alias yet
        return out

    def refresh(self) -> list[str]:
        """Load every model whose alias moved and swap them in together; returns the names swapped."""
        import mlflow

        with self._lock:
            client = mlflow.MlflowClient()
            current = self.bundle.models
            for _ in range(3):  # aliases moved while loading (a joint promotion in progress): read them again
                wanted = self._aliases(client)
                loaded: dict[str, Loaded] = {}
                for name, mv in wanted.items():
                    have = current.get(name)
                    if have is not None and have.version == str(mv.version):
                        continue
                    if self.failed.get(name) == str(mv.version):
                        continue
                    try:
                        model = self.loader(f"models:/{name}/{mv.version}")
                    except Exception as exc:  # any failure: keep serving what we have
                        log.error("loading %s v%s failed, %s keeps serving: %s", name, mv.version,
                                  f"v{have.version}" if have else "nothing", exc)
                        self.failed[name] = str(mv.version)
                        self._on_failure(name, str(mv.version))
                        continue
                    loaded[name] = Loaded(name, str(mv.version), model, mv.run_id or "", *fast_predict(model))
                again = {n: str(mv.version) for n, mv in self._aliases(client).items()}
                if all(again.get(n) == str(mv.version) for n, mv in wanted.items()):
                    break
            if not loaded:
                return []
            self.bundle = Bundle({**current, **loaded})
            for name, m in loaded.items():
                log.info("serving %s v%s", name, m.version)
                self._on_swap(name, m.version)
            return sorted(loaded)
