"""Named points where a test can kill the process, to prove a rerun recovers from a kill right there.

``PLATFORM_FAILPOINT=<name>`` makes the process SIGKILL itself when it reaches ``failpoint(<name>)``:
no cleanup handler runs, exactly as when the OOM killer or ``kill -9`` ends a task. Unset (always, outside
the tests), a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    """Die here, uncleanly, if ``$PLATFORM_FAILPOINT`` names this point."""
    if os.environ.get("PLATFORM_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
