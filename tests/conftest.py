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
    # rich pins a console's width to $COLUMNS when the console is created (the CLI's, at import); an
    # xdist worker starts with COLUMNS=80 set, which would override the width each CLI test asks for
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
    if not os.environ.get("ARCHSCORE_CACHE_DIR"):
        _OWN_CACHE = tempfile.mkdtemp(prefix="archscore-test-cache-")
        os.environ["ARCHSCORE_CACHE_DIR"] = _OWN_CACHE


def pytest_unconfigure(config) -> None:
    if _OWN_CACHE is not None:
        os.environ.pop("ARCHSCORE_CACHE_DIR", None)
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
