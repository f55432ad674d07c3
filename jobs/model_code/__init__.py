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

# What loading and calling each model needs installed (pip names), pinned to the versions installed here (the
# lock's). Listed rather than inferred: MLflow's inference loads every model in a subprocess (~4 s each, 19 s
# of market_rl_training's 44) and, for these models from code, left out torch and ray and named this
# project's own package, which no index serves, so `mlflow models serve --env-manager virtualenv` could not
# rebuild the environment.
COMMON = ("mlflow", "numpy", "pandas", "pyarrow", "scipy")
RL = ("torch", "ray[rllib]", "gymnasium", "pettingzoo", "numba")  # numba: the market env's kernels
NEEDS = {"bidder": RL, "pricing_policy": RL,
         "ctr": ("lightgbm",), "mmm": (), "multitask": ("torch",), "banner_policy": ()}  # the last: serving/


def requirements(code: str) -> list[str]:
    """``name==version`` of every distribution the model ``code`` needs, as installed."""
    from importlib.metadata import version

    # A local version label (torch's +cpu) is not on the index pip resolves from: the public version is.
    return [f"{dist}=={version(dist.split('[')[0]).split('+')[0]}" for dist in (*COMMON, *NEEDS[code])]


def log_pyfunc(name: str, code: str, **kwargs: Any) -> Any:
    """``mlflow.pyfunc.log_model`` for the model defined by ``jobs/model_code/<code>.py``; returns its info."""
    import mlflow

    root = HERE.parents[1]
    return mlflow.pyfunc.log_model(name=name, python_model=str(HERE / f"{code}.py"),
                                   code_paths=[str(root / "jobs"), str(root / "models")],
                                   pip_requirements=requirements(code), **kwargs)
