"""Encoders by name: the one place that names the parts every model, benchmark and search composes.

``make_encoder("stats+wl")`` is the free statistics and the Weisfeiler-Lehman counts side by side
(a :class:`sklearn.pipeline.FeatureUnion`); a single name is that encoder alone. The ``z`` part of
the shipped models is not a graph encoder but statistics relative to a population
(:class:`~archscore.encoders.population.PopulationEncoder`), composed by
:class:`~archscore.models.ScoringModel`.
"""

from __future__ import annotations

from typing import Any

from archscore.errors import UnknownNameError

ENCODER_NAMES = ("stats", "wl", "onehot", "gnn", "text")
"""Encoders :func:`make_encoder` builds (``+``-joined for several)."""


def make_encoder(spec: str, **params: Any):
    """A fresh, unfitted encoder: one of :data:`ENCODER_NAMES`, or several joined by ``+`` (side by side).

    ``params`` go to a single encoder (e.g. ``make_encoder("gnn", pretrained="default")``).
    """
    parts = [p.strip() for p in spec.split("+")]
    bad = [p for p in parts if p not in ENCODER_NAMES]
    if bad or not parts:
        known = ", ".join(ENCODER_NAMES)
        raise UnknownNameError(f"unknown encoder(s) {', '.join(bad) or repr(spec)}; compose from {known}")
    if len(parts) > 1:
        if params:
            raise ValueError(f"parameters go to a single encoder, not to {spec!r}")
        from sklearn.pipeline import FeatureUnion

        return FeatureUnion([(p, make_encoder(p)) for p in parts])
    from archscore import encoders

    cls = {"stats": encoders.StatsEncoder, "wl": encoders.WLEncoder, "onehot": encoders.CellOneHotEncoder,
           "gnn": encoders.GNNEncoder, "text": encoders.TextEncoder}[parts[0]]  # fmt: skip
    return cls(**params)
