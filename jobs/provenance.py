"""What a run records about itself: the config's hash and the code's commit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import asdict
from functools import lru_cache
from typing import Any

from jobs.paths import REPO_ROOT


def config_hash(cfg: Any) -> str:
    """Short stable hash of a config dataclass, tagged on every run."""
    blob = json.dumps(asdict(cfg), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


@lru_cache(maxsize=1)
def git_sha() -> str:
    """Commit of the code that runs, or 'unknown' outside a git checkout."""
    if os.environ.get("PLATFORM_GIT_SHA"):
        return os.environ["PLATFORM_GIT_SHA"]
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
