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

from collections.abc import Callable, Iterator
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


@dataclass
class Rows:
    """Some training rows: session features ``S``, product features ``P`` and both labels."""

    S: np.ndarray
    P: np.ndarray
    y_agent: np.ndarray
    y_buy: np.ndarray

    def __len__(self) -> int:
        return len(self.S)

    def take(self, idx: np.ndarray) -> "Rows":
        return Rows(self.S[idx], self.P[idx], self.y_agent[idx], self.y_buy[idx])


# A pass over the training rows, chunk by chunk; given a generator it returns the chunks in a shuffled order
# (None: in their stored order). Chunks are what is read at once: a Parquet row group, or everything in memory.
Chunks = Callable[[np.random.Generator | None], Iterator[Rows]]


def in_memory(rows: Rows) -> Chunks:
    """All rows as one chunk: training then shuffles them all, as an in-memory permutation would."""
    return lambda rng: iter([rows])


def train(S: np.ndarray, P: np.ndarray, y_agent: np.ndarray, y_buy: np.ndarray, valid: np.ndarray, epochs: int,
          batch: int, lr: float, alpha: float, beta: float, patience: int, seed: int,
          log: Any = None) -> TrainResult:
    """:func:`train_chunks` on arrays held in memory, ``valid`` marking the validation rows."""
    rows = Rows(S, P, y_agent, y_buy)
    return train_chunks(in_memory(rows.take(~valid)), rows.take(valid), epochs, batch, lr, alpha, beta, patience,
                        seed, log)


def train_chunks(chunks: Chunks, valid: Rows, epochs: int, batch: int, lr: float, alpha: float, beta: float,
                 patience: int, seed: int, log: Any = None, eval_rows: int = 500_000) -> TrainResult:
    """Adam with early stopping on the validation loss; the best epoch's weights are kept.

    The training rows stream through a torch DataLoader chunk by chunk (:class:`MiniBatches`), so they never have
    to fit in memory at once; the validation rows and up to ``eval_rows`` training rows (for the train loss of
    the learning curves) do. One intra-op thread whatever the machine: torch splits its reductions by thread
    count, so the same run on a Celery worker and on a laptop differed in the last digits of every loss (CI:
    0.42791319 vs 0.42791328), and a second thread bought nothing for this net (200k sessions, 3 epochs: 3.6 s
    on one thread, 3.1-3.5 s on two)."""
    with torch_threads(1):
        return _train(chunks, valid, epochs, batch, lr, alpha, beta, patience, seed, log, eval_rows)


def fit_scaler(chunks: Chunks) -> Scaler:
    """The scaler from one pass of sums over the training rows (float64; the std as numpy's, ddof 0)."""
    n, sums = 0, None
    for c in chunks(None):
        ls = np.log1p(np.maximum(c.S, 0))
        part = [ls.sum(0), (ls * ls).sum(0), c.P.sum(0), (c.P * c.P).sum(0)]
        sums = part if sums is None else [a + b for a, b in zip(sums, part)]
        n += len(c)
    if not n or sums is None:
        raise ValueError("no training rows to fit the multi-task model on")
    m_s, m_p = sums[0] / n, sums[2] / n
    sd = [np.sqrt(np.maximum(sums[1] / n - m_s**2, 0)), np.sqrt(np.maximum(sums[3] / n - m_p**2, 0))]
    return Scaler(m_s, sd[0] + 1e-6, m_p, sd[1] + 1e-6)


def tensors(rows: Rows, scaler: Scaler) -> dict[str, Any]:
    """The net's inputs and labels for ``rows``: scaled features, log(price / list price), float labels."""
    import torch

    s, p = scaler.transform(rows.S, rows.P)
    arrays = {"s": s, "p": p, "r": np.log(rows.P[:, 2]).astype(np.float32),
              "a": np.asarray(rows.y_agent, dtype=np.float32), "b": np.asarray(rows.y_buy, dtype=np.float32)}
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def mini_batches(chunks: Chunks, scaler: Scaler, batch: int, gen: Any) -> Any:
    """A DataLoader of shuffled mini-batches: chunks in a random order, the rows of each in a random order.

    With one chunk this is exactly a permutation of all rows; with many it is the usual out-of-core shuffle
    (a mini-batch never mixes two chunks)."""
    import torch

    class MiniBatches(torch.utils.data.IterableDataset):
        def __iter__(self) -> Iterator[dict[str, Any]]:
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
            for c in chunks(np.random.default_rng(seed)):
                t = tensors(c, scaler)
                order = torch.randperm(len(c), generator=gen)
                for i in range(0, len(c), batch):
                    idx = order[i:i + batch]
                    yield {k: v[idx] for k, v in t.items()}

    return torch.utils.data.DataLoader(MiniBatches(), batch_size=None)


def _train(chunks: Chunks, valid: Rows, epochs: int, batch: int, lr: float, alpha: float, beta: float,
           patience: int, seed: int, log: Any, eval_rows: int) -> TrainResult:
    import torch

    torch.manual_seed(seed)
    scaler = fit_scaler(chunks)
    sample = training_sample(chunks, eval_rows, seed)
    t_train, t_valid = tensors(sample, scaler), tensors(valid, scaler)
    net = build_net()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    bce = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    best, best_state, bad, history, best_epoch = float("inf"), None, 0, [], 0

    def losses(t: dict[str, Any]) -> tuple[Any, Any]:
        la, lb = net(t["s"], t["p"], t["r"])
        return bce(la, t["a"]), bce(lb, t["b"])

    for epoch in range(epochs):
        net.train()
        for mb in mini_batches(chunks, scaler, batch, gen):
            la, lb = losses(mb)
            loss = alpha * la + beta * lb
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            ta, tb = losses(t_train)
            va, vb = losses(t_valid)
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


def training_sample(chunks: Chunks, cap: int, seed: int) -> Rows:
    """All training rows if there are at most ``cap``, else a seeded sample of about ``cap`` (the train loss of
    the learning curves is measured on it)."""
    total = sum(len(c) for c in chunks(None))
    share = 1.0 if total <= cap else cap / total
    rng = np.random.default_rng(seed)
    parts = [c if share >= 1 else c.take(rng.random(len(c)) < share) for c in chunks(None)]
    return Rows(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("S", "P", "y_agent", "y_buy")))


def predict(net: Any, scaler: Scaler, S: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P(agent), P(purchase)) for session features ``S`` and product features ``P``."""
    import torch

    s, p = scaler.transform(S, P)
    with torch.no_grad():
        la, lb = net(torch.from_numpy(s), torch.from_numpy(p), torch.from_numpy(np.log(P[:, 2]).astype(np.float32)))
    return torch.sigmoid(la).numpy().astype(np.float64), torch.sigmoid(lb).numpy().astype(np.float64)


def session_matrix(df: pd.DataFrame) -> np.ndarray:
    return df[FEATURES].to_numpy(np.float64)
