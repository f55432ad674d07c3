"""ingest: get Avazu's ``train`` file from Kaggle, a local path, or the synthetic generator."""

from __future__ import annotations

import logging
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.avazu_ctr.config import AvazuConfig
from jobs.common import CredentialsError, InputDataError, RunContext, atomic_path
from jobs.progress import Progress
from models.avazu_synth import SynthConfig, generate_chunks

log = logging.getLogger(__name__)


def _kaggle_dir() -> Path:
    return Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))


def kaggle_credentials() -> str | None:
    """Where Kaggle credentials were found (for the log), or None when there are none.

    Checked in the order the official client tries them: an access token
    (``KAGGLE_API_TOKEN`` or ``~/.kaggle/access_token``), then the legacy key
    (``KAGGLE_USERNAME`` + ``KAGGLE_KEY``, or ``~/.kaggle/kaggle.json``). The Airflow
    task copies an Airflow connection ``kaggle_default`` into those variables.
    """
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    if (_kaggle_dir() / "access_token").is_file():
        return str(_kaggle_dir() / "access_token")
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME/KAGGLE_KEY"
    if (_kaggle_dir() / "kaggle.json").is_file():
        return str(_kaggle_dir() / "kaggle.json")
    return None


def resolve_source(cfg: AvazuConfig) -> str:
    """The concrete source for ``cfg.source`` (``auto`` -> kaggle or synthetic), logged."""
    if cfg.source != "auto":
        return cfg.source
    where = kaggle_credentials()
    if where:
        log.info("source=auto: Kaggle credentials found (%s), downloading from Kaggle", where)
        return "kaggle"
    log.warning(
        "source=auto: no Kaggle credentials (KAGGLE_USERNAME/KAGGLE_KEY, ~/.kaggle/kaggle.json, "
        "KAGGLE_API_TOKEN or Airflow connection kaggle_default), using the offline synthetic source"
    )
    return "synthetic"


def download_kaggle(competition: str, file_name: str, dest: Path) -> Path:
    """Download one competition file with the official client into ``dest``.

    Raises :class:`CredentialsError` naming every place credentials are looked for when
    none exist, or when Kaggle rejects them, instead of the client's ``exit(1)``.
    """
    if kaggle_credentials() is None:
        raise CredentialsError(
            "source=kaggle but no Kaggle credentials were found: set KAGGLE_USERNAME and "
            f"KAGGLE_KEY (or KAGGLE_API_TOKEN), write {_kaggle_dir() / 'kaggle.json'}, or add "
            "an Airflow connection 'kaggle_default' (login = username, password = key)"
        )
    from kaggle.api.kaggle_api_extended import KaggleApi  # lazy: importing kaggle authenticates

    api = KaggleApi()
    try:
        api.authenticate()
    except SystemExit as exc:  # the client calls exit(1) on bad credentials
        raise CredentialsError(f"Kaggle rejected the credentials: authenticate() exited with {exc.code}") from exc
    dest.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s/%s from Kaggle into %s", competition, file_name, dest)
    api.competition_download_file(competition, file_name, path=str(dest), quiet=False)
    zipped = dest / f"{file_name}.zip"
    if zipped.exists():  # the API may wrap the file in a zip
        with zipfile.ZipFile(zipped) as zf:
            zf.extractall(dest)
        zipped.unlink()
    path = dest / file_name
    if not path.exists():
        raise InputDataError(f"Kaggle download finished but {path} is missing")
    return path


def write_synthetic(cfg: AvazuConfig, out_dir: Path, chunk_rows: int = 500_000) -> tuple[Path, Path]:
    """Write ``cfg.synthetic_rows`` synthetic rows as ``train.csv`` plus ``ground_truth.parquet``.

    Both files appear atomically; memory is bounded by ``chunk_rows``.
    """
    csv_path, truth_path = out_dir / "train.csv", out_dir / "ground_truth.parquet"
    progress = Progress("synthetic", total=cfg.synthetic_rows, unit="rows")
    with atomic_path(csv_path) as tmp_csv, atomic_path(truth_path) as tmp_truth:
        writer: pacsv.CSVWriter | None = None
        truth_writer: pq.ParquetWriter | None = None
        try:
            for table, p in generate_chunks(SynthConfig(seed=cfg.seed), cfg.synthetic_rows, chunk_rows):
                if writer is None:
                    opts = pacsv.WriteOptions(quoting_style="none")
                    writer = pacsv.CSVWriter(str(tmp_csv), table.schema, write_options=opts)
                writer.write_table(table)
                truth = pa.table({"id": table["id"], "p_click": pa.array(p.astype(np.float64))})
                if truth_writer is None:
                    truth_writer = pq.ParquetWriter(str(tmp_truth), truth.schema, compression="zstd")
                truth_writer.write_table(truth)
                progress.update(table.num_rows)
        finally:
            if writer is not None:
                writer.close()
            if truth_writer is not None:
                truth_writer.close()
    progress.done()
    return csv_path, truth_path


def run(cfg: AvazuConfig, ctx: RunContext, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Produce the raw ``train`` file; returns ``raw_path``, ``source`` and ``ground_truth_path``."""
    t0 = time.time()
    source = resolve_source(cfg)
    raw_dir = ctx.run_dir / "raw"
    truth: Path | None = None
    if source == "kaggle":
        raw = download_kaggle(cfg.kaggle_competition, cfg.kaggle_file, raw_dir)
    elif source == "local":
        raw = Path(cfg.local_path).expanduser().resolve()
        if not raw.is_file():
            raise InputDataError(f"source=local: {raw} does not exist or is not a file")
    else:
        raw, truth = write_synthetic(cfg, raw_dir)
    log.info("ingest: %s (%s, %.1f MB) in %.1f s", raw, source, raw.stat().st_size / 1e6, time.time() - t0)
    return {
        **(state or {}),
        "source": source,
        "raw_path": str(raw),
        "ground_truth_path": str(truth) if truth else None,
    }
