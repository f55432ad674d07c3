"""A writer on a thread of its own behind a bounded queue: the producer's next chunk overlaps with writing the
last one (Arrow's encoders and zlib release the GIL), and the queue bound keeps memory flat."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class BackgroundWriter:
    """``write(item)`` for every item put, on a background thread; ``flush()`` once at the end (also after an
    error, so files get closed). The first error there is raised by the next :meth:`put` or by :meth:`close`;
    later items are then dropped."""

    def __init__(self, write: Callable[[Any], None], flush: Callable[[], None], name: str, depth: int = 8) -> None:
        self._write, self._flush = write, flush
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name=name, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                self._run(self._write, item)
        self._run(self._flush)

    def _run(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # surfaced by put()/close()
            self._error = self._error or exc

    def put(self, item: Any) -> None:
        """Queue ``item`` (blocks while the queue is full)."""
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def close(self) -> None:
        """Write what is queued, flush, and raise the writer's error if there was one."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
