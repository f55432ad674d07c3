"""Where outputs live and how they are written: the data root, a DAG run's folder, and atomic writes.

Every file a step writes goes through :func:`atomic_path` (or a helper built on it): it is written
to a temporary sibling and renamed into place only when complete, so a killed task never leaves half
a file where a rerun or a downstream step reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jobs.failpoints import failpoint

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """Root of every pipeline's outputs: ``$PLATFORM_DATA_DIR`` or ``<repo>/data``."""
    return Path(os.environ.get("PLATFORM_DATA_DIR", REPO_ROOT / "data")).resolve()


@dataclass(frozen=True)
class RunContext:
    """Who is running a job: the Airflow DAG run and task, or a CLI invocation."""

    dag_id: str
    run_id: str
    task_id: str = ""

    @classmethod
    def cli(cls, dag_id: str, run_id: str | None = None) -> "RunContext":
        """A context for running outside Airflow; run ids look like Airflow's manual ones."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        return cls(dag_id=dag_id, run_id=run_id or f"cli__{stamp}_{uuid.uuid4().hex[:6]}")

    def for_task(self, task_id: str) -> "RunContext":
        """The same DAG run, one task of it."""
        return RunContext(self.dag_id, self.run_id, task_id)

    @property
    def run_dir(self) -> Path:
        """Folder of this DAG run's outputs (run ids hold ':' and '+', unsafe in paths)."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.run_id)
        return data_root() / self.dag_id / "runs" / safe


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")


def temp_name(name: str, kind: str = "tmp") -> str:
    """The hidden sibling a write goes through: ``.<name>.tmp-<pid>-<random>``; the pid tells ``jobs doctor``
    whether the writer still runs (a killed writer's leftovers are removed, a live one's left alone)."""
    return f".{name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is replaced only after success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    failpoint(f"write:{final.name}")
    if final.is_dir() and not final.is_symlink():
        old = final.with_name(temp_name(final.name, "old"))
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final: Path, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; move it into place only if the block succeeds.

    On any exception the temporary file or folder is removed and ``final`` (an earlier
    result, if any) is left exactly as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(temp_name(final.name))
    if is_dir:
        tmp.mkdir()
    try:
        yield tmp
        _swap_into_place(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    return Path(path)


def publish_link(target: Path, link: Path) -> None:
    """Point ``link`` (e.g. ``features/current``) at ``target`` atomically."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(temp_name(link.name))
    os.symlink(target, tmp)
    os.replace(tmp, link)


PENDING_LINKS = "pending_links"


def defer_link(state: dict[str, Any], target: Path, link: Path) -> dict[str, Any]:
    """``state`` plus a pointer to move once the whole DAG run has succeeded (the runner moves it after the
    last step), so a later failure never leaves ``link`` pointing at a run that produced nothing usable."""
    return {**state, PENDING_LINKS: {**state.get(PENDING_LINKS, {}), str(link): str(target)}}


def publish_pending_links(state: dict[str, Any]) -> list[str]:
    """Move every pointer :func:`defer_link` recorded in ``state``; returns the links moved."""
    links = state.get(PENDING_LINKS, {})
    for link, target in links.items():
        publish_link(Path(target), Path(link))
    return sorted(links)


def write_table(df: Any, path: Path, index: bool = False) -> Path:
    """Write a data frame atomically as CSV or Parquet, chosen by ``path``'s suffix."""
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ValueError(f"{path}: write_table writes .csv or .parquet")
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=index)
        else:
            df.to_parquet(tmp, index=index)
    return path


def save_directory(save: Any, final: Path) -> Path:
    """Build a directory atomically: ``save(tmp_dir)`` writes it (e.g. an RLlib checkpoint), then it moves in."""
    with atomic_path(Path(final), is_dir=True) as tmp:
        save(str(tmp))
    return Path(final)
