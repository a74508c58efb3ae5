"""Encoders: architectures → feature matrices, each a scikit-learn transformer.

``fit(archs, y=None)`` learns what the encoding needs from architectures alone (labels are never
required, so unlabelled architectures of a space can be used), ``transform(archs)`` returns a
float matrix with one row per architecture. Graph encoders read :class:`~archscore.graph.ArchGraph`
objects; the one-hot baseline reads cell strings; :class:`PopulationEncoder` (the ``z`` part)
reads rows of statistics and standardises them against a reference population. Encoders of the same input compose with
:class:`sklearn.pipeline.FeatureUnion`, and any encoding feeds any predictor.
"""

from archscore.encoders.compose import ENCODER_NAMES, make_encoder
from archscore.encoders.gnn import GNNEncoder
from archscore.encoders.onehot import CellOneHotEncoder
from archscore.encoders.population import PopulationEncoder
from archscore.encoders.stats import StatsEncoder
from archscore.encoders.text import TextEncoder
from archscore.encoders.wl import WLEncoder

__all__ = [
    "ENCODER_NAMES",
    "CellOneHotEncoder",
    "GNNEncoder",
    "PopulationEncoder",
    "StatsEncoder",
    "TextEncoder",
    "WLEncoder",
    "make_encoder",
]
