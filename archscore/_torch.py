"""What archscore's torch-backed estimators share (imported only by code that already has torch)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(torch, n_jobs: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n_jobs`` (``-1``: every core) for the block, then restored.

    Estimators run inside worker pools and search loops: leaving torch's global setting changed
    would slow whatever runs next in the process.
    """
    from joblib import effective_n_jobs

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, effective_n_jobs(n_jobs)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def pairwise_ranking_loss(pred, y):
    """Mean pairwise logistic ranking loss over the last axis of two torch tensors of equal shape.

    For each pair ``(i, j)`` with ``y_i != y_j``: ``softplus(-(pred_i - pred_j)·sign(y_i - y_j))``,
    i.e. ``log(1 + exp(-margin))`` of the margin by which the prediction orders the pair the way the
    truth does. Pairs with tied targets say nothing about the order and are left out; without any
    untied pair the loss is 0. Leading axes (e.g. one per ensemble member) are kept.
    """
    import torch

    with torch.no_grad():
        against = -torch.sign(y.unsqueeze(-1) - y.unsqueeze(-2))
        untied = (against != 0).sum(dim=(-2, -1)).to(pred.dtype)
        ties = against.shape[-1] * against.shape[-2] - untied
    # A tied pair costs softplus(0) = log 2 with zero gradient: subtract it rather than mask every pair.
    total = torch.nn.functional.softplus((pred.unsqueeze(-1) - pred.unsqueeze(-2)) * against).sum(dim=(-2, -1))
    return (total - ties * math.log(2)) / untied.clamp(min=1)
