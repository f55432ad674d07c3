"""``python -m jobs.notebooks [--profile smoke] [NAME ...]`` (``make notebooks``): execute the notebooks in
``notebooks/`` with nbclient, in order, each in a fresh kernel with ``NOTEBOOK_PROFILE`` set; write the executed
copies under ``<data root>/notebooks/<stamp>/`` and log them to MLflow (experiment ``notebooks``, one run per
invocation). The committed notebooks hold no outputs (:func:`committed_outputs`); a cell that fails stops the
run with the notebook and cell named."""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.paths import REPO_ROOT, atomic_path, data_root

NOTEBOOKS = REPO_ROOT / "notebooks"
CELL_TIMEOUT_S = 1200
log = logging.getLogger(__name__)


@dataclass
class Executed:
    name: str
    path: Path  # the executed copy
    seconds: float


class NotebookError(RuntimeError):
    """A notebook's cell raised: which notebook, which cell, what it said."""


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """The notebooks to run, in order (all of ``notebooks/`` when ``names`` is empty); unknown names refused."""
    found = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return found
    by_name = {p.stem: p for p in found}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown notebooks {unknown}; known: {sorted(by_name)}")
    return [by_name[n] for n in names]


def committed_outputs(path: Path) -> list[int]:
    """Indices of the code cells of ``path`` that carry outputs or an execution count (none may be committed)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]


def execute(path: Path, out_dir: Path, profile: str) -> Executed:
    """Run one notebook top to bottom in a fresh kernel (working directory: the repository) and write the
    executed copy; NotebookError names the failing cell."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    # The kernel inherits this process's environment; MLflow's download bars would fill the outputs.
    os.environ.update(NOTEBOOK_PROFILE=profile, MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false")
    t0 = time.perf_counter()
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO_ROOT)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        failed = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                       and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        raise NotebookError(f"{path.name}, cell {failed}: {exc.ename}: {exc.evalue} (the executed copy, with its "
                            f"traceback: {out_dir / path.name})") from exc
    finally:
        out = out_dir / path.name
        with atomic_path(out) as tmp:
            nbformat.write(nb, tmp)
    return Executed(path.stem, out, time.perf_counter() - t0)


def run(names: list[str] | None, profile: str) -> list[Executed]:
    """Execute the notebooks in order, logging progress and each executed copy to MLflow."""
    import mlflow

    from jobs.tracking import mlflow_setup

    paths = notebook_paths(names)
    out_dir = data_root() / "notebooks" / time.strftime("%Y%m%dT%H%M%S")
    done: list[Executed] = []
    t0 = time.perf_counter()
    exp = mlflow_setup("notebooks")
    with mlflow.start_run(experiment_id=exp, run_name=f"notebooks {profile}", tags={"notebooks.profile": profile}):
        for i, path in enumerate(paths, 1):
            try:
                ran = execute(path, out_dir, profile)
            finally:
                if (out_dir / path.name).exists():
                    mlflow.log_artifact(str(out_dir / path.name), "executed")
            done.append(ran)
            mlflow.log_metric(f"seconds.{ran.name}", ran.seconds)
            elapsed = time.perf_counter() - t0
            log.info("notebook %d/%d %s: %.1f s (elapsed %.0f s, about %.0f s to go)", i, len(paths), ran.name,
                     ran.seconds, elapsed, elapsed / i * (len(paths) - i))
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names without .ipynb (default: all)")
    parser.add_argument("--profile", default="smoke", choices=("smoke", "demo", "full"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for ran in run(args.names, args.profile):
        print(f"{ran.name:14} {ran.seconds:6.1f} s  {ran.path}")


if __name__ == "__main__":
    main()
