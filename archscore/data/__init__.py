"""Real benchmark tables, bundled with the package, served as labelled architectures.

``load(source, target=...)`` returns a :class:`Table`; ``sources()`` describes what is bundled
(also ``archscore data list``). The tables are read from the installed package: nothing is
downloaded and ``../shared`` is never needed at run time.
"""

from __future__ import annotations

from archscore.data.sources import SOURCES, Source
from archscore.data.tables import Table, data_version, load, read_source, sources, targets_of

__all__ = ["SOURCES", "Source", "Table", "data_version", "load", "read_source", "sources", "targets_of"]
