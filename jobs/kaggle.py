"""Kaggle's official client behind one door: credentials, the auto source, downloads.

Used by every pipeline whose data lives on Kaggle (avazu_ctr: a competition file; mmm: a
dataset file). Without credentials, ``source=auto`` falls back to the offline source with
a log line, and ``source=kaggle`` raises :class:`CredentialsError` naming every place
credentials are looked for.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path
from typing import Any

from models.common.errors import BadInputError, CredentialsError

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


# Where an ingest step takes its file from: auto resolves to kaggle (credentials found) or synthetic.
SOURCES = ("auto", "kaggle", "local", "synthetic")


def resolve_source(source: str) -> str:
    """The concrete source for ``source`` (``auto`` -> kaggle or synthetic), logged."""
    if source != "auto":
        return source
    where = kaggle_credentials()
    if where:
        log.info("source=auto: Kaggle credentials found (%s), downloading from Kaggle", where)
        return "kaggle"
    log.warning(
        "source=auto: no Kaggle credentials (KAGGLE_USERNAME/KAGGLE_KEY, ~/.kaggle/kaggle.json, "
        "KAGGLE_API_TOKEN or Airflow connection kaggle_default), using the offline synthetic source"
    )
    return "synthetic"


def _api() -> Any:
    """An authenticated client; CredentialsError instead of the client's ``exit(1)``."""
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
    return api


def _unzipped(dest: Path, file_name: str) -> Path:
    zipped = dest / f"{Path(file_name).name}.zip"
    if zipped.exists():  # the API may wrap the file in a zip
        with zipfile.ZipFile(zipped) as zf:
            zf.extractall(dest)
        zipped.unlink()
    path = dest / Path(file_name).name
    if not path.exists():
        raise BadInputError(f"Kaggle download finished but {path} is missing")
    return path


def download_file(kind: str, ref: str, file_name: str, dest: Path) -> Path:
    """Download one file of a Kaggle ``competition`` (its name) or ``dataset`` (``owner/name``) into ``dest``
    with the official client."""
    if kind not in ("competition", "dataset"):
        raise ValueError(f"kind must be competition or dataset, got {kind!r}")
    api = _api()
    dest.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s %s/%s from Kaggle into %s", kind, ref, file_name, dest)
    fetch = api.competition_download_file if kind == "competition" else api.dataset_download_file
    fetch(ref, file_name, path=str(dest), quiet=False)
    return _unzipped(dest, file_name)
