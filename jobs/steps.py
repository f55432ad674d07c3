"""The contract between a pipeline's steps: what each one reads from the state the earlier steps returned,
and what it adds for the later ones.

Each pipeline lists its steps in order as :class:`Step` objects (``jobs/<pipeline>/pipeline.py``), so the
path of the data is written down next to the code, checked once when the module is imported (a step may
only read what an earlier one writes) and checked again at run time by the runner: a missing key fails at
the step that forgot it, naming the key, not three steps later as a ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

StepFn = Callable[[Any, Any, dict[str, Any]], dict[str, Any]]
# What the runner adds to every step's output: the step's MLflow run, its experiment and the DAG run's parent.
RUNNER_KEYS = ("mlflow_run_id", "mlflow_experiment_id", "mlflow_parent_run_id")


class ContractError(RuntimeError):
    """A step and the state it was handed (or returned) disagree with the pipeline's declared contract."""


@dataclass(frozen=True)
class Step:
    """One step of a pipeline.

    Attributes:
        run: ``run(cfg, ctx, state) -> state``.
        reads: state keys the step needs (an earlier step writes each).
        writes: state keys the step adds or replaces for the later steps.
    """

    run: StepFn
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    def check_input(self, pipeline: str, name: str, state: Mapping[str, Any]) -> None:
        """ContractError naming every declared key the incoming state lacks."""
        missing = [k for k in self.reads if k not in state]
        if missing:
            raise ContractError(f"{pipeline}.{name} reads {missing}, which the state from the earlier steps lacks "
                                f"(it has {sorted(state)}); run the pipeline from its first step")

    def check_output(self, pipeline: str, name: str, out: Mapping[str, Any]) -> None:
        """ContractError naming every declared key the step did not return, and every key whose value strict JSON
        cannot carry (a NaN or infinity: Airflow's XCom refuses it, so the embedded run must refuse it too)."""
        import json

        missing = [k for k in self.writes if k not in out]
        if missing:
            raise ContractError(f"{pipeline}.{name} declares it writes {missing} but did not return them")
        bad = []
        for key, value in out.items():
            try:
                json.dumps(value, allow_nan=False, default=str)
            except ValueError:
                bad.append(key)
        if bad:
            raise ContractError(f"{pipeline}.{name} returned NaN or infinite values in {bad}: strict JSON (Airflow's "
                                "XCom) cannot carry them; return None for an undefined value")


def check_chain(pipeline: str, steps: Mapping[str, Step]) -> Mapping[str, Step]:
    """Each step reads only what an earlier step writes; returns ``steps``."""
    known: set[str] = set()
    for name, step in steps.items():
        unknown = [k for k in step.reads if k not in known]
        if unknown:
            raise ContractError(f"{pipeline}.{name} reads {unknown}, which no earlier step writes")
        known.update(step.writes)
        known.update(RUNNER_KEYS)
    return steps
