"""Free statistics of the ArchGraph as features (FBNetV3's "free" statistics).

MACs, parameters, depth, widths, op counts, and the same for the *effective* network (what
depends on the input and reaches the output): computed from the graph in microseconds, without
labels, and strongly tied to accuracy and latency. Values are put on a signed log scale, since
MACs and counts span orders of magnitude across spaces.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from archscore.encoders._base import check_graphs, signed_log
from archscore.graph.stats import STAT_NAMES, stats


class StatsEncoder(TransformerMixin, BaseEstimator):
    """ArchGraphs → their free statistics (see :data:`archscore.graph.stats.STAT_NAMES`).

    Args:
        log: Signed log scale (``sign(x)·log1p(|x|)``) instead of raw values.
        drop_constant: Drop statistics constant over the graphs seen in ``fit`` (op counts of ops
            a space never uses); they carry no information for those graphs.
    """

    def __init__(self, log: bool = True, drop_constant: bool = True) -> None:
        self.log = log
        self.drop_constant = drop_constant

    def statistics(self, archs) -> np.ndarray:
        """Every statistic of ``archs`` (no column dropped, nothing to fit), on the encoder's scale."""
        graphs = check_graphs(archs, type(self).__name__)
        rows = [list(stats(g).values()) for g in graphs]
        X = np.asarray(rows, dtype=np.float64).reshape(len(graphs), len(STAT_NAMES))
        return signed_log(X) if self.log else X

    def fit(self, archs, y=None) -> StatsEncoder:
        X = self.statistics(archs)
        if not len(X):
            raise ValueError("StatsEncoder.fit needs at least one graph")
        keep = np.ptp(X, axis=0) > 0 if self.drop_constant and len(X) > 1 else np.ones(X.shape[1], bool)
        self.columns_ = np.flatnonzero(keep)
        self.n_features_out_ = int(self.columns_.size)
        return self

    def transform(self, archs) -> np.ndarray:
        check_is_fitted(self)
        return self.statistics(archs)[:, self.columns_]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray([f"stats__{STAT_NAMES[i]}" for i in self.columns_], dtype=object)
