"""The registered pyfuncs as MLflow "models from code": each file here names the class that serves one model,
and the model's weights travel as artifacts in open formats (LightGBM text, torch state dicts, npz, JSON).

So loading a registered model unpickles nothing of ours: MLflow runs this reviewed code (copied into the
model with ``jobs/`` and ``models/``) instead of a cloudpickled object whose bytes anyone with write access
to the registry could have replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def log_pyfunc(name: str, code: str, **kwargs: Any) -> Any:
    """``mlflow.pyfunc.log_model`` for the model defined by ``jobs/model_code/<code>.py``; returns its info."""
    import mlflow

    root = HERE.parents[1]
    return mlflow.pyfunc.log_model(name=name, python_model=str(HERE / f"{code}.py"),
                                   code_paths=[str(root / "jobs"), str(root / "models")], **kwargs)
