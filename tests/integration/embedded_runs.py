"""The integration test's runs one after another in this one process on the embedded stack (SQLite MLflow
from MLFLOW_TRACKING_URI, Spark local[*]): ``python tests/integration/embedded_runs.py``, run by the
``embedded`` fixture. One process, so one JVM and one set of imports for all of them."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jobs.runner import run_pipeline  # noqa: E402
from tests.integration.test_stack import RUNS  # noqa: E402

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for dag_id, name, conf in RUNS:
        overrides = {k: v for k, v in conf.items() if k != "profile"}
        run_pipeline(dag_id, conf["profile"], overrides, f"emb_{name}")
