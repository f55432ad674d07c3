"""The MMM's fitted state on disk: the fit (mode, Laplace covariance, loss history) and the posterior that
planning and serving read, each one compressed .npz (written through a file object: ``np.savez`` would append
".npz" to a temporary name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.mmm.model import MmmData, MmmFit, MmmNet
from models.mmm.response import Posterior


def save_fit(fitted: MmmFit, path: Any) -> None:
    """The mode, the Laplace covariance and the loss history (the net is rebuilt from the data)."""
    with open(path, "wb") as f:
        np.savez_compressed(f, theta=fitted.theta, cov=fitted.cov, train_weeks=fitted.train_weeks,
                            kinds=np.array([fitted.net.adstock, fitted.net.saturation]),
                            loss_history=np.array(fitted.loss_history))


def load_fit(path: Any, data: MmmData) -> MmmFit:
    """A fit saved by :func:`save_fit`, on the same data it was fitted to."""
    with np.load(path) as z:
        net = MmmNet(data, *(str(k) for k in z["kinds"]))
        if z["theta"].shape != (net.n,):
            raise ValueError(f"{path}: {z['theta'].shape[0]} parameters, the data needs {net.n}")
        return MmmFit(net, z["theta"], z["cov"], int(z["train_weeks"]), z["loss_history"].tolist())


def save_posterior(post: Posterior, path: Path) -> None:
    """The posterior's arrays, plus its labels as JSON."""
    meta = {"channels": post.channels, "weeks": post.weeks, "keys": post.keys.to_dict(orient="list"),
            "saturation": post.saturation, "levels": list(post.levels), "series": len(post.keys)}
    with open(path, "wb") as f:
        np.savez_compressed(f, meta=np.array(json.dumps(meta)), beta=post.beta, half=post.half,
                            slope=post.slope, base=post.base, carry=post.carry, own=post.own, price=post.price,
                            spend=post.spend)


def load_posterior(path: Path) -> Posterior:
    """A posterior saved by :func:`save_posterior`."""
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k not in ("meta", "cpm")}  # cpm: posteriors saved before data specs
    # Posteriors saved before data specs were geo x brand x SKU, pooled by brand and geo.
    keys = pd.DataFrame(meta["keys"]) if meta["keys"] else pd.DataFrame(index=pd.RangeIndex(meta.get("series", 1)))
    return Posterior(keys=keys, channels=meta["channels"], weeks=meta["weeks"], saturation=meta["saturation"],
                     levels=tuple(meta.get("levels", ("Brand", "Geo"))), **arrays)
