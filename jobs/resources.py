"""How much of the machine a job may use: ``PLATFORM_THREADS`` or every core this process may run on."""

from __future__ import annotations

import os


def cpu_count() -> int:
    """Threads for XGBoost, LightGBM, torch and Ray: ``$PLATFORM_THREADS``, else the cores available to us."""
    env = os.environ.get("PLATFORM_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"PLATFORM_THREADS must be a positive integer, got {env!r}")
        return int(env)
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
