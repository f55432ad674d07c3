"""``python -m jobs doctor [--dry-run]``: find and clean what killed tasks left behind.

- a promotion killed half-way (the registry journal, or versions still tagged ``promotion=pending``):
  finished or undone, as the next promotion would (:func:`jobs.registry.recover`);
- MLflow task runs left RUNNING by a process that is gone (on this host): marked KILLED, and their DAG
  run's parent run too when none of its tasks still runs;
- hidden temporary files and folders of writes cut short (``.<name>.tmp-<pid>-…`` under the data root)
  whose writer is gone: removed.

Safe to run at any time, also while pipelines run: live processes' runs and files are left alone.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from jobs.liveness import pid_alive
from jobs.paths import TEMP_NAME, data_root

log = logging.getLogger("jobs.doctor")


def stale_temp_paths(root: Path) -> list[Path]:
    """Temporary siblings under ``root`` whose writer process is gone."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            m = TEMP_NAME.match(name)
            if m and not pid_alive(int(m["pid"])):
                found.append(Path(folder) / name)
        dirs[:] = [d for d in dirs if not TEMP_NAME.match(d)]  # nothing inside a temporary folder to look at
    return sorted(found)


def close_dead_parents(experiment_ids: list[str], dry_run: bool) -> list[str]:
    """DAG-run parent runs still RUNNING although no task of theirs runs and one was killed or failed."""
    import mlflow

    client = mlflow.MlflowClient()
    closed = []
    for parent in client.search_runs(experiment_ids, "attributes.status = 'RUNNING' and tags.`platform.role` = "
                                     "'dag_run'", max_results=5000):
        children = client.search_runs([parent.info.experiment_id],
                                      f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", max_results=1000)
        states = {c.info.status for c in children}
        if "RUNNING" not in states and states & {"KILLED", "FAILED"}:
            closed.append(f"{parent.data.tags.get('airflow.dag_id', '?')} {parent.data.tags.get('airflow.run_id')}")
            if not dry_run:
                client.set_tag(parent.info.run_id, "platform.closed_by", "jobs doctor")
                client.set_terminated(parent.info.run_id, status="KILLED")
    return closed


def doctor(dry_run: bool = False) -> dict[str, Any]:
    """Recover killed promotions, close dead runs, remove stale temporary files; returns what was found."""
    import mlflow

    from jobs.registry import journal_path, recover, registry_lock
    from jobs.tracking import close_dead_runs, mlflow_setup

    mlflow_setup("Default")
    client = mlflow.MlflowClient()
    report: dict[str, Any] = {}
    if dry_run:
        report["registry"] = {"journal": journal_path().exists(),
                              "pending_versions": [f"{v.name} v{v.version}" for v in
                                                   client.search_model_versions("tags.promotion = 'pending'")]}
    else:
        with registry_lock("jobs doctor"):
            report["registry"] = recover(client)
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    dead = close_dead_runs(exp_ids, "", "jobs doctor", dry_run)
    report["dead_task_runs"] = [f"{r.data.tags.get('airflow.dag_id')} {r.data.tags.get('airflow.run_id')} "
                                f"{r.data.tags.get('airflow.task_id')}" for r in dead]
    report["dead_dag_runs"] = close_dead_parents(exp_ids, dry_run)
    stale = stale_temp_paths(data_root())
    report["stale_temp_paths"] = [str(p) for p in stale]
    if not dry_run:
        for path in stale:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
    return report


def main(argv: list[str]) -> int:
    """Print what was found (and, unless --dry-run, fixed)."""
    parser = argparse.ArgumentParser(prog="python -m jobs doctor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    t0 = time.time()
    report = doctor(args.dry_run)
    verb = "found" if args.dry_run else "fixed"
    for key, items in report.items():
        items = items if isinstance(items, list) else [f"{k}: {v}" for k, v in items.items() if v]
        print(f"{key}: {len(items)} {verb}")
        for item in items:
            print(f"  {item}")
    print(f"doctor: done in {time.time() - t0:.1f} s")
    return 0
