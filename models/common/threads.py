"""Thread settings for small torch models."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads inside the block, then restore the process's setting.

    For models whose tensors hold thousands of elements (the MMM), extra threads only add synchronisation,
    and on a busy machine (tasks side by side on a Celery worker, test processes) their spin-waits starve
    everything else: a smoke MMM fit took 184 s next to four other tasks, 15 s alone."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
