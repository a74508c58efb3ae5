"""The ONNX files bundled in an archive (the zoo's ``zoo_onnx.zip``), read and parsed through the graph cache.

Below :mod:`archscore.data.tables` (a table whose architectures are archive members gets its graphs
here) and :mod:`archscore.data.zoo` (the labelled zoo), so neither imports the other.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from archscore.data.sources import SOURCES, bundled_path
from archscore.errors import UnknownNameError
from archscore.graph import ArchGraph, from_onnx

if TYPE_CHECKING:
    from archscore.data.cache import GraphCache


@functools.cache
def _archive() -> tuple[bytes, str]:
    raw = bundled_path(SOURCES["zoo"].onnx_archive).read_bytes()  # type: ignore[arg-type]
    return raw, hashlib.blake2b(raw, digest_size=6).hexdigest()


def zoo_onnx(member: str) -> bytes:
    """The weight-free ONNX file of one zoo network (a member name from the ``onnx`` column)."""
    raw, _ = _archive()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        try:
            return z.read(member)
        except KeyError:
            raise UnknownNameError(f"the zoo has no network {member!r}") from None


def archive_graphs(members: Sequence[str], cache: GraphCache | None = None) -> list[ArchGraph]:
    """ArchGraphs of zoo networks (members of the archive), parsed on first use and cached on disk."""
    from archscore.data.cache import GraphCache

    cache = cache or GraphCache()
    raw, digest = _archive()
    shard = f"archive{digest}"
    stored = cache.read("zoo", shard)
    missing = sorted(set(members) - set(stored))
    if missing:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            names = set(z.namelist())
            unknown = [m for m in missing if m not in names]
            if unknown:
                raise UnknownNameError(f"the zoo has no network(s) {', '.join(unknown[:5])}")
        if cache.workers > 1 and len(missing) > 50:  # many: on every core
            from concurrent.futures import ProcessPoolExecutor

            chunks = [missing[i :: cache.workers] for i in range(cache.workers)]
            with ProcessPoolExecutor(cache.workers) as pool:
                built = {k: v for part in pool.map(_parse_members, chunks) for k, v in part.items()}
        else:
            built = _parse_members(missing)
        stored = cache.write("zoo", shard, {**stored, **built})
    return [stored[m] for m in members]


def _parse_members(members: Sequence[str]) -> dict[str, ArchGraph]:
    """ArchGraphs of some members of the archive (in a worker process, or here)."""
    raw, _ = _archive()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {m: from_onnx(z.read(m)) for m in members}
