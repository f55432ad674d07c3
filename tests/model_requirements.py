"""Does a registered model's requirements.txt cover what loading and calling it imports? The check MLflow's
own inference stands for, run where the model was trained: a fresh interpreter loads the model and predicts
on its input example (when it has one); every one of this project's direct dependencies it imported must be a listed
requirement or required by one. Only direct dependencies are judged: libraries import many packages just
because they are installed (MLflow imports pyspark, OpenTelemetry exporters, uvloop when present)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOADER = r"""
import importlib.metadata as md, json, sys
import mlflow
model = mlflow.pyfunc.load_model(sys.argv[1])
example = model.metadata.load_input_example(mlflow.artifacts.download_artifacts(sys.argv[1]))
if example is not None:  # a model logged without one is judged on what loading it imports
    model.predict(example)
names = md.packages_distributions()
print(json.dumps(sorted({d for m in list(sys.modules) for d in names.get(m.split(".")[0], [])})))
"""


def closure(requirements: list[str]) -> set[str]:
    """The listed distributions and everything they require (with their extras), as installed here."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        try:
            deps = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:  # an optional dependency that is not installed
            continue
        seen.add(key)
        envs = [{"extra": e} for e in req.extras] + [{"extra": ""}]
        todo += [d for d in map(Requirement, deps) if d.marker is None or any(d.marker.evaluate(e) for e in envs)]
    return {name for name, _ in seen}


OWN = "adplatform"
PROBED = {"pyspark"}  # mlflow.types imports it whenever it is installed


def uncovered(model_uri: str) -> set[str]:
    """This project's dependencies that loading and calling ``model_uri`` imported but its requirements do
    not bring (and this project itself, if it is listed: no index serves it)."""
    import mlflow

    reqs = [line for line in open(mlflow.pyfunc.get_model_dependencies(model_uri)).read().splitlines() if line]
    out = subprocess.run([sys.executable, "-c", LOADER, model_uri], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri()})
    assert out.returncode == 0, out.stderr[-3000:]
    imported = {canonicalize_name(d) for d in json.loads(out.stdout.strip().splitlines()[-1])}
    direct = {canonicalize_name(Requirement(r).name) for r in metadata.requires(OWN) or []
              if Requirement(r).marker is None}
    listed = {canonicalize_name(Requirement(r).name) for r in reqs}
    brought = closure([r for r in reqs if canonicalize_name(Requirement(r).name) != OWN])
    return (imported & direct) - brought - PROBED | (listed & {OWN})
