"""A periodic progress log line with rate and ETA, for jobs that stream."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("jobs.progress")


class Progress:
    """Logs ``name: 45% 450000/1000000 rows, 210000 rows/s, ETA 3s`` at most every ``every_s``."""

    def __init__(self, name: str, total: float | None = None, unit: str = "rows", every_s: float = 5.0) -> None:
        self.name, self.total, self.unit, self.every_s = name, total, unit, every_s
        self.done_units = 0.0
        self.t0 = self.last = time.monotonic()

    def update(self, n: float) -> None:
        """Add ``n`` units and log if ``every_s`` has passed since the last line."""
        self.done_units += n
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            log.info(self._line(now))

    def set(self, value: float) -> None:
        """Set the absolute amount done (e.g. a byte offset)."""
        self.update(value - self.done_units)

    def _line(self, now: float) -> str:
        rate = self.done_units / max(now - self.t0, 1e-9)
        r = f"{rate:,.2f}" if rate < 10 else f"{rate:,.0f}"
        if self.total:
            pct = 100.0 * self.done_units / self.total
            eta = (self.total - self.done_units) / rate if rate > 0 else float("inf")
            return (f"{self.name}: {pct:.0f}% {self.done_units:,.0f}/{self.total:,.0f} {self.unit}, "
                    f"{r} {self.unit}/s, ETA {eta:.0f}s")
        return f"{self.name}: {self.done_units:,.0f} {self.unit}, {r} {self.unit}/s"

    def done(self) -> float:
        """Log the final line; returns elapsed seconds."""
        now = time.monotonic()
        log.info("%s (done in %.1fs)", self._line(now), now - self.t0)
        return now - self.t0
