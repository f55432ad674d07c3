"""The multi-task pricing network: P(agent) and P(purchase | offered price) from one session encoder.

Session encoder 29 -> 128 -> 64; agent head 64 -> 1; product encoder 10 -> 16; purchase
head: logit = base([session code, product code]) - elasticity(session code) * log(price /
list price), with the elasticity kept positive by a softplus. Conditioning on the price
this way builds in the one thing economics is sure of (demand falls as the price rises)
while letting each session, human or agent, have its own price sensitivity; a free MLP
on the price learned a flat or rising demand curve on small data and priced everyone at
the top of the grid. Loss alpha * BCE(agent) + beta * BCE(purchase). Inputs are log1p-compressed and standardised
with statistics of the training rows, stored with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.common.threads import torch_threads
from models.pricing.session_features import FEATURES
from models.pricing.synth import CATEGORIES

# What the purchase head reads about the offer, next to the 29 session features.
OFFER_FEATURES = ["offer_price", "list_price", "offer_category", "offer_rating"]

PRODUCT_FEATURES = ["log_price", "log_list_price", "price_ratio", *[f"cat_{c}" for c in CATEGORIES], "rating"]


def product_matrix(
    offer_price: np.ndarray, list_price: np.ndarray, category: np.ndarray, rating: np.ndarray
) -> np.ndarray:
    """The 10 product features of an offer: prices, price ratio, category one-hot, rating."""
    onehot = (np.asarray(category, dtype=object)[:, None] == np.array(CATEGORIES, dtype=object)[None, :]).astype(float)
    return np.column_stack([np.log(offer_price), np.log(list_price), offer_price / list_price, onehot,
                            np.asarray(rating, dtype=float)])


@dataclass
class Scaler:
    """log1p then standardise (session features); standardise (product features)."""

    mean_s: np.ndarray
    std_s: np.ndarray
    mean_p: np.ndarray
    std_p: np.ndarray

    @classmethod
    def fit(cls, S: np.ndarray, P: np.ndarray) -> "Scaler":
        ls = np.log1p(np.maximum(S, 0))
        return cls(ls.mean(0), ls.std(0) + 1e-6, P.mean(0), P.std(0) + 1e-6)

    def transform(self, S: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ((np.log1p(np.maximum(S, 0)) - self.mean_s) / self.std_s).astype(np.float32), \
            ((P - self.mean_p) / self.std_p).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: getattr(self, k).tolist() for k in ("mean_s", "std_s", "mean_p", "std_p")}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> "Scaler":
        return cls(*(np.asarray(d[k]) for k in ("mean_s", "std_s", "mean_p", "std_p")))


def build_net() -> Any:
    import torch
    from torch import nn

    class MultiTaskNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.session = nn.Sequential(nn.Linear(len(FEATURES), 128), nn.ReLU(), nn.Dropout(0.1),
                                         nn.Linear(128, 64), nn.ReLU())
            self.agent = nn.Linear(64, 1)
            self.product = nn.Sequential(nn.Linear(len(PRODUCT_FEATURES), 16), nn.ReLU())
            self.purchase = nn.Sequential(nn.Linear(64 + 16, 32), nn.ReLU(), nn.Linear(32, 1))
            self.elasticity = nn.Linear(64, 1)

        def forward(self, s: Any, p: Any, log_ratio: Any) -> tuple[Any, Any]:
            h = self.session(s)
            base = self.purchase(torch.cat([h, self.product(p)], -1)).squeeze(-1)
            slope = nn.functional.softplus(self.elasticity(h)).squeeze(-1)
            return self.agent(h).squeeze(-1), base - slope * log_ratio

    return MultiTaskNet()


@dataclass
class TrainResult:
    net: Any
    scaler: Scaler
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0


def train(S: np.ndarray, P: np.ndarray, y_agent: np.ndarray, y_buy: np.ndarray, valid: np.ndarray, epochs: int,
          batch: int, lr: float, alpha: float, beta: float, patience: int, seed: int,
          log: Any = None) -> TrainResult:
    """Adam with early stopping on the validation loss; the best epoch's weights are kept.

    One intra-op thread whatever the machine: torch splits its reductions by thread count, so the same run on
    a Celery worker and on a laptop differed in the last digits of every loss (CI: 0.42791319 vs 0.42791328),
    and a second thread bought nothing for this net (200k sessions, 3 epochs: 3.6 s on one thread, 3.1-3.5 s on two)."""
    with torch_threads(1):
        return _train(S, P, y_agent, y_buy, valid, epochs, batch, lr, alpha, beta, patience, seed, log)


def _train(S: np.ndarray, P: np.ndarray, y_agent: np.ndarray, y_buy: np.ndarray, valid: np.ndarray, epochs: int,
           batch: int, lr: float, alpha: float, beta: float, patience: int, seed: int, log: Any) -> TrainResult:
    import torch

    torch.manual_seed(seed)
    scaler = Scaler.fit(S[~valid], P[~valid])
    s, p = scaler.transform(S, P)
    lr_ = np.log(P[:, 2]).astype(np.float32)  # log(price / list price)
    t = {k: torch.from_numpy(v) for k, v in {"s": s, "p": p, "r": lr_, "a": y_agent.astype(np.float32),
                                              "b": y_buy.astype(np.float32)}.items()}
    tr_idx, va_idx = np.flatnonzero(~valid), np.flatnonzero(valid)
    net = build_net()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    bce = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    best, best_state, bad, history, best_epoch = float("inf"), None, 0, [], 0

    def loss_on(idx: np.ndarray) -> tuple[Any, Any]:
        la, lb = net(t["s"][idx], t["p"][idx], t["r"][idx])
        return bce(la, t["a"][idx]), bce(lb, t["b"][idx])

    for epoch in range(epochs):
        net.train()
        order = tr_idx[torch.randperm(len(tr_idx), generator=gen).numpy()]
        for i in range(0, len(order), batch):
            la, lb = loss_on(order[i:i + batch])
            loss = alpha * la + beta * lb
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            ta, tb = loss_on(tr_idx)
            va, vb = loss_on(va_idx)
        row = {"epoch": epoch + 1, "train_agent": float(ta), "train_purchase": float(tb), "valid_agent": float(va),
               "valid_purchase": float(vb), "valid_loss": float(alpha * va + beta * vb)}
        history.append(row)
        if log is not None:
            log(row)
        if row["valid_loss"] < best - 1e-5:
            best, bad, best_epoch = row["valid_loss"], 0, epoch + 1
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return TrainResult(net, scaler, history, best_epoch)


def predict(net: Any, scaler: Scaler, S: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P(agent), P(purchase)) for session features ``S`` and product features ``P``."""
    import torch

    s, p = scaler.transform(S, P)
    with torch.no_grad():
        la, lb = net(torch.from_numpy(s), torch.from_numpy(p), torch.from_numpy(np.log(P[:, 2]).astype(np.float32)))
    return torch.sigmoid(la).numpy().astype(np.float64), torch.sigmoid(lb).numpy().astype(np.float64)


def session_matrix(df: pd.DataFrame) -> np.ndarray:
    return df[FEATURES].to_numpy(np.float64)
