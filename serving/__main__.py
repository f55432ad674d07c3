"""``python -m serving`` (``make serve``): the service under uvicorn, ``SERVING_WORKERS`` processes on
``SERVING_HOST:SERVING_PORT`` (127.0.0.1:8000 unless set)."""

from __future__ import annotations

import logging
import os
import shutil

from serving.config import from_env


def main() -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    cfg = from_env()  # fails here, before any worker starts, on a bad setting
    prom = os.path.join(cfg.state_dir, "prometheus")
    shutil.rmtree(prom, ignore_errors=True)  # samples of an earlier run's workers would be summed in
    os.makedirs(prom, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prom
    # One request is one thread's work: OpenMP pools in XGBoost and LightGBM spin-wait between calls and, per
    # worker, would burn the cores the other workers need (3.4 ms of CPU per price request instead of ~1).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.getLogger("serving").info("serving on http://%s:%d with %d workers", cfg.host, cfg.port, cfg.workers)
    uvicorn.run("serving.app:create_app", factory=True, host=cfg.host, port=cfg.port, workers=cfg.workers,
                log_level="warning", access_log=False, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
