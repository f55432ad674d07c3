"""How long a run takes to fail when the MLflow tracking server is gone: a closed port, and a listener that
accepts connections and never answers. Default HTTP settings (jobs/tracking.py HTTP_DEFAULTS).

Target: under 30 s each (it was 497 s and more than 600 s). ``python bench/dead_tracking_server.py``
"""

from __future__ import annotations

import os
import socket
import tempfile
import time

from common import write_result


def main() -> None:
    os.environ["PLATFORM_DATA_DIR"] = tempfile.mkdtemp(prefix="dead_tracking_")
    from jobs.runner import run_pipeline

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    out = {}
    for name, port in (("refused_port", closed_port), ("never_answers", silent.getsockname()[1])):
        os.environ["MLFLOW_TRACKING_URI"] = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()
        try:
            run_pipeline("budget_bandits", "smoke")
            error = "none: the run succeeded?"
        except Exception as exc:  # the point: which error, and how fast
            error = type(exc).__name__
        out[name] = {"seconds_to_fail": round(time.monotonic() - t0, 1), "error": error}
    silent.close()
    write_result("dead_tracking_server", {"target_s": 30, **out})


if __name__ == "__main__":
    main()
