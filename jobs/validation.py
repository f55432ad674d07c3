"""Great Expectations runner: validate a data frame against a reviewed suite in ``expectations/``.

The suites in the repository are the source of truth: each run loads the JSON into a GX
file context of its own (``<project_dir>/gx``, by default under the data root; the
pipelines pass their run folder, so parallel runs never share a context and each run's
Data Docs hold only its own validations), runs a checkpoint that updates Data Docs, and
returns a compact report. A failure raises
:class:`DataValidationError` naming each failed expectation with what was observed.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.paths import REPO_ROOT, data_root
from models.common.errors import BadInputError

log = logging.getLogger(__name__)

EXPECTATIONS_DIR = REPO_ROOT / "expectations"


class DataValidationError(BadInputError):
    """A dataset failed its expectation suite; ``report`` holds the details."""

    def __init__(self, message: str, report: "ValidationReport") -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ValidationReport:
    """Outcome of one suite on one dataset."""

    suite: str
    dataset: str
    success: bool
    evaluated: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    engine: str = "pandas"
    data_docs: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def message(self) -> str:
        """One line per failed expectation: type, column, what was observed."""
        lines = [
            f"{self.dataset} failed {len(self.failures)} of {self.evaluated} expectations of suite {self.suite!r}:"
        ]
        for f in self.failures:
            col = f" column {f['column']!r}" if f.get("column") else ""
            lines.append(f"  - {f['expectation']}{col}: {f['observed']}")
        return "\n".join(lines)


def load_suite_json(name: str) -> dict[str, Any]:
    """The reviewed suite ``expectations/<name>.json``."""
    path = EXPECTATIONS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no expectation suite {path}")
    return json.loads(path.read_text())


def _context(project_dir: Path) -> Any:
    import great_expectations as gx

    project_dir.mkdir(parents=True, exist_ok=True)
    return gx.get_context(mode="file", project_root_dir=str(project_dir))


def _get_or_add(getter: Any, adder: Any, name: str) -> Any:
    try:
        return getter(name)
    except (KeyError, LookupError):
        return adder(name)


def _replace(store: Any, obj: Any) -> Any:
    """Store ``obj`` under its name, replacing an older copy (GX refuses duplicates)."""
    from great_expectations.exceptions import DataContextError

    try:
        store.delete(obj.name)
    except (DataContextError, KeyError, ValueError):
        pass
    return store.add(obj)


def _observed(result: dict[str, Any]) -> str:
    if "observed_value" in result:
        return f"observed {result['observed_value']!r}"
    parts = []
    if "unexpected_count" in result:
        parts.append(f"{result['unexpected_count']:,} unexpected of {result.get('element_count', 0):,} rows")
    if result.get("partial_unexpected_list"):
        parts.append(f"e.g. {result['partial_unexpected_list'][:5]!r}")
    return ", ".join(parts) or "failed"


def engine(df: Any) -> str:
    """``pandas`` for a pandas frame, ``spark`` for a Spark (classic or Connect) DataFrame."""
    import pandas as pd

    if isinstance(df, pd.DataFrame):
        return "pandas"
    from great_expectations.datasource.fluent.spark_datasource import DataFrameAsset

    if DataFrameAsset.is_spark_data_frame(df):
        return "spark"
    raise TypeError(f"validate a pandas or a Spark DataFrame, not {type(df).__name__}")


def _raised(info: dict[str, Any]) -> str | None:
    """The error a metric raised, if any (GX keeps it flat, or per metric when several were computed)."""
    infos = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for i in infos:
        if i.get("raised_exception"):
            return f"raised {i.get('exception_message')}"
    return None


def _widen_small_ints(df: Any) -> Any:
    """Byte and short columns as int: GX 1.24's Spark metrics (mean, ...) refuse them as non-numeric. Lossless,
    and lazy (a projection, no data moves)."""
    from pyspark.sql import types as T

    small = {f.name for f in df.schema.fields if isinstance(f.dataType, (T.ByteType, T.ShortType))}
    if not small:
        return df
    return df.select(*[df[c].cast("int").alias(c) if c in small else df[c] for c in df.columns])


def parquet_rows(path: str | Path) -> int:
    """Rows of a Parquet file or folder (hive partitions included), from the footers alone."""
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet", partitioning="hive").count_rows()


def load_for_validation(path: str | Path, engine_name: str, spark_rows: int, app_name: str) -> Any:
    """The Parquet at ``path`` as a pandas frame, or as a Spark DataFrame when ``engine_name`` is ``spark`` or
    (``auto``) the data holds more than ``spark_rows`` rows: then the suites run as Spark jobs and the rows never
    gather in this process."""
    import pandas as pd

    rows = parquet_rows(path) if engine_name == "auto" else 0
    if engine_name == "spark" or (engine_name == "auto" and rows > spark_rows):
        from jobs.spark import get_spark

        log.info("validation of %s on Spark (%s rows; engine %s)", path, f"{rows:,}" if rows else "?", engine_name)
        return get_spark(app_name).read.parquet(str(path))
    return pd.read_parquet(path)


def validate_frame(df: Any, suite_name: str, dataset: str, project_dir: Path | None = None,
                   suite: dict[str, Any] | None = None) -> ValidationReport:
    """Validate a pandas or Spark frame against ``expectations/<suite_name>.json`` (or ``suite``, the same JSON
    layout generated at run time, e.g. from the MMM's data spec).

    A Spark DataFrame runs the suite on GX's Spark engine: the expectations become Spark jobs, so the data
    never has to fit in the driver (the pandas engine stays for inputs that fit comfortably).

    ``project_dir`` holds the GX context and Data Docs (default: the data root).
    Returns the report on success; raises :class:`DataValidationError` (with the report)
    when any expectation fails. Data Docs are rebuilt on every run.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = suite if suite is not None else load_suite_json(suite_name)
    project_dir = Path(project_dir or data_root())
    ctx = _context(project_dir)
    ctx.variables.progress_bars = {"globally": False, "metric_calculations": False}
    kind = engine(df)
    if kind == "spark":
        df = _widen_small_ints(df)
    # GX caches a Spark frame whole by default (deserialised rows, memory and disk): at 29M events that was a
    # fifth of the step and most of its memory. Every frame validated here is a Parquet scan, which each
    # expectation re-reads cheaply, only its own columns.
    source = (_get_or_add(ctx.data_sources.get, ctx.data_sources.add_pandas, kind) if kind == "pandas"
              else ctx.data_sources.add_or_update_spark(kind, persist=False))
    asset = _get_or_add(source.get_asset, source.add_dataframe_asset, suite_name)
    batch_def = _get_or_add(asset.get_batch_definition, asset.add_batch_definition_whole_dataframe, "whole")
    suite = _replace(
        ctx.suites,
        ExpectationSuite(
            name=suite_name,
            expectations=[
                ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {})).to_domain_obj()
                for e in spec["expectations"]
            ],
            meta=spec.get("meta", {}),
        ),
    )
    vdef = _replace(
        ctx.validation_definitions, gx.ValidationDefinition(name=f"{suite_name}_vd", data=batch_def, suite=suite)
    )
    checkpoint = _replace(ctx.checkpoints, gx.Checkpoint(
        name=f"{suite_name}_checkpoint",
        validation_definitions=[vdef],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
        result_format={"result_format": "SUMMARY"},
    ))
    result = checkpoint.run(batch_parameters={"dataframe": df})
    failures, evaluated, raw = [], 0, {}
    for vr in result.run_results.values():
        raw = vr.to_json_dict()
        for r in vr.results:
            evaluated += 1
            if not r.success:
                kwargs = {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"}
                failures.append({
                    "expectation": r.expectation_config.type,
                    "column": kwargs.get("column"),
                    "kwargs": kwargs,
                    "observed": _raised(r.exception_info) or _observed(r.result or {}),
                })
    docs = project_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    report = ValidationReport(suite_name, dataset, result.success, evaluated, failures, kind,
                              docs if docs.exists() else None, raw)
    if not report.success:
        raise DataValidationError(report.message(), report)
    log.info("validation: %s passed %d expectations of %s (%s engine)", dataset, evaluated, suite_name, kind)
    return report


def log_report_to_mlflow(report: ValidationReport) -> None:
    """Log the result JSON, pass/fail metrics and the Data Docs site to the active MLflow run."""
    import mlflow

    mlflow.log_dict(report.raw, f"validation/{report.suite}.json")
    mlflow.log_metrics({
        f"{report.suite}.evaluated": report.evaluated,
        f"{report.suite}.failed": len(report.failures),
    })
    mlflow.set_tag(f"validation.{report.suite}", "passed" if report.success else "failed")
    mlflow.set_tag(f"validation.{report.suite}.engine", report.engine)
    if report.data_docs is not None:
        mlflow.log_artifacts(str(report.data_docs), "data_docs")


def validate_and_log(df: Any, suite_name: str, dataset: str, project_dir: Path,
                     suite: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate and log the report to the active MLflow run, pass or fail (a failure re-raises)."""
    try:
        report = validate_frame(df, suite_name, dataset, project_dir=project_dir, suite=suite)
    except DataValidationError as exc:
        log_report_to_mlflow(exc.report)
        raise
    log_report_to_mlflow(report)
    return {"suite": suite_name, "evaluated": report.evaluated, "engine": report.engine}
