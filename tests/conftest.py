"""Test-session settings shared by every test folder."""

from __future__ import annotations

import os
import shutil
import tempfile

_OWN_CACHE: str | None = None


def pytest_configure(config) -> None:
    """Graphs built by the tests go to a cache folder of the session's own, not the user's ~/.cache.

    Set ``ARCHSCORE_CACHE_DIR`` to keep a warm cache between runs (the tests then use that folder).
    """
    global _OWN_CACHE
    if not os.environ.get("ARCHSCORE_CACHE_DIR"):
        _OWN_CACHE = tempfile.mkdtemp(prefix="archscore-test-cache-")
        os.environ["ARCHSCORE_CACHE_DIR"] = _OWN_CACHE


def pytest_unconfigure(config) -> None:
    if _OWN_CACHE is not None:
        os.environ.pop("ARCHSCORE_CACHE_DIR", None)
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
