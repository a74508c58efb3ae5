"""What archscore's torch-backed estimators share (imported only by code that already has torch)."""

from __future__ import annotations

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
