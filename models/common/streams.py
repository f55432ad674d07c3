"""Named random streams: every seeded generator of the platform, derived from a config seed and a name.

A stream is ``numpy.random.default_rng([seed, key, *extra])`` (a few older streams put the key after
``extra``, or have none: their layout is kept so that their draws stay the same). Names make the purpose of each
draw readable and keep two purposes from sharing a stream by accident; the keys are the ones the
pipelines have always used, so the figures they produce are unchanged. ``extra`` splits a stream
further (a chunk, a day, a row offset) without colliding with another name.
"""

from __future__ import annotations

import numpy as np

STREAMS: dict[str, int | tuple[int | None, str]] = {
    "avazu.impressions": 1,          # + row offset of the chunk
    "avazu.tail_ip": 2,              # + row offset
    "avazu.busy_ips": 3,
    "avazu.device_ids": 4,           # + row offset
    "avazu.calibration": 10**6,
    "clickstream.world": 999,
    "pricing.split": 5,
    "pricing.tree_sample": 24,       # the training sessions the distilled tree learns from
    "budget.plan": 1,
    "budget.outcomes": (7, "last"),  # + day, before the key
    "budget.policy": (None, "none"),  # + policy index
    "clickstream.chunk": (None, "none"),  # + chunk index
    "market.inventory": 11,
    "market.ctr_noise": 12,
    "market.clicks": 13,
    "market.affinity": 14,           # + the advertiser's name (crc32): its assortment wherever it is listed
    "rllib.replay_buffer": 7,
    "serving.purchases": 21,         # simulated shoppers' purchase draws
    "serving.banner_visits": 22,     # simulated banner visitors' contexts and clicks
    "banner.dr_splits": 23,          # + rows of the log: the DR reward model's extra cross-fitting splits
}


def stream(seed: int, name: str, *extra: int) -> np.random.Generator:
    """The generator of stream ``name`` for config ``seed`` (``extra``: a further split, e.g. a chunk index)."""
    if name not in STREAMS:
        raise KeyError(f"unknown random stream {name!r}; known: {sorted(STREAMS)}")
    key, extra_ints = STREAMS[name], [int(e) for e in extra]
    if isinstance(key, int):
        return np.random.default_rng([int(seed), key, *extra_ints])
    first, where = key
    tail = [first] if where == "last" else []
    return np.random.default_rng([int(seed), *extra_ints, *tail])


# Integer seeds handed to code that takes a seed rather than a generator: the config seed plus a named offset.
# Two names sharing an offset is harmless when their draws never meet (a split vs a logging policy).
SEED_OFFSETS: dict[str, int] = {
    "ctr.valid_split": 1,
    "banner.production_policy": 1,
    "banner.logs": 10,              # + index of the logged policy
    "rl.verdict": 1000,             # + index of the evaluation seed
    "rl.pricing_eval": 2000,        # + index of the evaluation seed
    "rl.select": 3000,              # + index of the evaluation seed
}


def derived_seed(seed: int, name: str, index: int = 0) -> int:
    """The integer seed ``name`` derives from config ``seed`` (``index``: the n-th of a series)."""
    if name not in SEED_OFFSETS:
        raise KeyError(f"unknown derived seed {name!r}; known: {sorted(SEED_OFFSETS)}")
    return int(seed) + SEED_OFFSETS[name] + int(index)
