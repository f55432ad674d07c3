"""Cross-process locks for what must happen one at a time (promotion, creating the MLflow store).

An exclusive ``flock`` on a file: it works for every process that sees the same folder (tasks of
the embedded stack, Celery workers sharing the data folder) and is released by the kernel when its
holder dies, so a killed task never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def lock_dir() -> Path:
    """``$PLATFORM_LOCK_DIR``, else ``<data root>/.locks``: every worker of one deployment must see it."""
    from jobs.paths import data_root

    path = Path(os.environ.get("PLATFORM_LOCK_DIR", data_root() / ".locks"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def file_lock(path: Path, timeout_s: float, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block; TimeoutError naming ``what`` and the holder's pid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        deadline, waited = time.monotonic() + timeout_s, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    raise TimeoutError(f"{what}: lock {path} still held by pid {holder} after {timeout_s:.0f} s") \
                        from None
                if not waited:
                    log.info("%s: waiting for lock %s", what, path)
                    waited = True
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock
