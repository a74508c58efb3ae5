"""Accuracy of real networks: ImageNet-1K or CIFAR top-1 in %, learned from the zoo of real architectures.

A NAS benchmark's cells are ranked within their own space (a percentile); a real network a user
exports — a ResNet, a ViT, an EfficientNet — is asked a plainer question: how accurate will it be
on ImageNet (or CIFAR)? :class:`AccuracyHead` answers it for one benchmark setting:

* **Which networks it answers for** (:func:`classifier_setting`): an image classifier whose input
  is 3-channel and whose first output has 1000 (or 1001) classes at ≥ 96 px is an ImageNet-1K
  network; 10 or 100 classes at ≤ 64 px is a CIFAR-10 / CIFAR-100 one.
* **Features** (:func:`design_features`): a compact description of the design from the free
  statistics — size (log params, MACs, activations), input resolution, depth, widths, and the
  design's character as shares (depthwise convolutions, attention MACs, modern activations,
  gating, layer norm, skips, concatenations, kernel sizes). Shares and ratios, not raw op counts,
  so a family never seen in training is described in the same terms as the ones that were.
* **Honest uncertainty**: a LightGBM bootstrap ensemble whose noise term is calibrated on
  predictions for *held-out families* (grouped cross-validation inside the training rows), so
  the 90 % interval is sized for a design the head never saw, not for a sibling of a training row.
* **Out of distribution**: the RMS z-score of the features to the nearest training network; the
  threshold is set from how far each training family sits from the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from archscore.graph import ArchGraph
from archscore.graph.archgraph import numel
from archscore.graph.stats import stats

DATASETS = ("imagenet1k", "cifar10", "cifar100")
"""The benchmark settings a head can answer for, in the zoo's dataset names."""
TARGET = "top1"
OOD_QUANTILE = 0.99
OOD_MARGIN = 1.25
RANGE_MARGIN = 1.0
"""Stds beyond the training networks' range of a feature that make a network out of distribution."""
CV_FOLDS = 5

_ACTS = ("relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu", "silu", "hardswish", "mish",
         "softplus", "tanh", "clip")  # fmt: skip
_MODERN = ("gelu", "silu", "hardswish", "mish")
_NORMS = ("batch_norm", "layer_norm", "group_norm", "instance_norm")

FEATURE_NAMES: tuple[str, ...] = (
    "log_params", "log_macs", "log_activations", "log_peak_activations", "log_resolution", "log_compute_depth",
    "log_compute_nodes", "log_max_width", "log_first_width", "num_stages", "macs_per_param", "activations_per_mac",
    "dwconv_share", "attention_macs_share", "linear_macs_share", "modern_act_share", "gating_per_block",
    "layer_norm_share", "skips_per_block", "concat_per_block", "mean_kernel", "k1_share", "large_kernel_share",
    "log_longest_skip", "dead_share",
)  # fmt: skip


def _output_classes(graph: ArchGraph) -> int | None:
    if not graph.outputs:
        return None
    src, slot = graph.outputs[0]
    outs = graph.nodes[src].outputs
    shape = outs[slot] if slot < len(outs) else None
    if not shape or shape[-1] is None or shape[-1] <= 0:
        return None
    # a (1, classes) or (classes,) logit vector
    return int(shape[-1]) if numel(shape) == shape[-1] else None


def classifier_setting(graph: ArchGraph) -> str | None:
    """The benchmark a network's interface says it is for: ``"imagenet1k"``, ``"cifar10"``, ``"cifar100"`` or None.

    The rule reads only the interface: a 3-channel image input and the first output's class count
    (1000/1001 at ≥ 96 px: ImageNet-1K; 10 or 100 at ≤ 64 px: CIFAR).
    """
    first = next((x for x in graph.nodes if x.op == "input"), None)
    shape = first.shape if first is not None else None
    if not shape or len(shape) != 4 or shape[1] != 3:
        return None
    side = min(shape[2], shape[3])
    classes = _output_classes(graph)
    if classes in (1000, 1001) and side >= 96:
        return "imagenet1k"
    if classes in (10, 100) and 0 < max(shape[2], shape[3]) <= 64:
        return f"cifar{classes}"
    return None


def _log(x: float) -> float:
    return math.log10(max(x, 1.0))


def design_features(graphs: Sequence[ArchGraph]) -> np.ndarray:
    """The :data:`FEATURE_NAMES` of each graph, one row per graph."""
    rows = []
    for g in graphs:
        s = stats(g)

        def count(*ops: str, s: dict[str, float] = s) -> float:
            return sum(s.get(f"count_{op}", 0.0) for op in ops)

        convs = count("conv", "dwconv")
        acts = count(*_ACTS) or 1.0
        blocks = max(s["compute_depth"], 1.0)
        kernels = max(s["conv_k1"] + s["conv_k3"] + s["conv_k5"] + s["conv_k7_plus"], 1.0)
        first_width = s["width_stage_1"]
        rows.append(
            [
                _log(s["params"]),
                _log(s["macs"]),
                _log(s["activation_elements"]),
                _log(s["peak_activation_elements"]),
                _log(s["input_height"]),
                _log(s["compute_depth"]),
                _log(s["effective_compute_nodes"]),
                _log(s["max_width"]),
                _log(first_width),
                s["num_stages"],
                _log(s["macs"]) - _log(s["params"]),
                _log(s["activation_elements"]) - _log(s["macs"]),
                count("dwconv") / max(convs, 1.0),
                s["compute_macs_share_attention"],
                s["compute_macs_share_linear"],
                count(*_MODERN) / acts,
                count("sigmoid", "hardsigmoid") / blocks,
                count("layer_norm") / max(count(*_NORMS), 1.0),
                s["skip_connections"] / blocks,
                count("concat") / blocks,
                s["mean_kernel"],
                s["conv_k1"] / kernels,
                s["conv_k7_plus"] / kernels,
                _log(s["longest_skip"]),
                s["dead_nodes"] / max(s["nodes"], 1.0),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(graphs), len(FEATURE_NAMES))


def family_folds(groups: np.ndarray, k: int) -> list[np.ndarray]:
    """Row indices of ``k`` folds of whole families (largest family first, each to the smallest fold)."""
    names, sizes = np.unique(groups, return_counts=True)
    k = min(k, len(names))
    bins: list[list[str]] = [[] for _ in range(k)]
    load = np.zeros(k)
    for i in np.argsort(-sizes, kind="stable"):
        j = int(load.argmin())
        bins[j].append(names[i])
        load[j] += sizes[i]
    return [np.flatnonzero(np.isin(groups, b)) for b in bins]


class AccuracyHead:
    """Top-1 accuracy (%) of real networks of one benchmark setting, with a calibrated std.

    Args:
        dataset: The setting (:data:`DATASETS`).
        predictor_params: Settings of the :class:`~archscore.predictors.GBDTRegressor` ensemble.
        seed: Its seed.
    """

    def __init__(self, dataset: str = "imagenet1k", predictor_params: dict[str, Any] | None = None, seed: int = 0):
        self.dataset = dataset
        self.predictor_params = dict(predictor_params or {})
        self.seed = seed

    def _predictor(self):
        from archscore.predictors import GBDTRegressor

        params = {"n_members": 5, "n_estimators": 300, "learning_rate": 0.03, "num_leaves": 7, "min_child_samples": 5,
                  "colsample_bytree": 0.7, "random_state": self.seed, **self.predictor_params}  # fmt: skip
        return GBDTRegressor(**params)

    def fit(self, graphs: Sequence[ArchGraph], y, families: Sequence[str], names: Sequence[str] | None = None):
        """Fit on labelled networks; ``families`` group them for the held-out-family calibration."""
        from archscore.predictors._ensemble import calibrated_noise

        X = self._features(graphs)
        y = np.asarray(y, dtype=np.float64)
        groups = np.asarray(families)
        if len(y) != len(X) or len(y) < 10:
            raise ValueError(f"AccuracyHead({self.dataset}): need ≥ 10 labelled networks, got {len(y)}")
        if len(set(families)) < 3:
            raise ValueError(f"AccuracyHead({self.dataset}): need ≥ 3 families to calibrate on held-out ones")
        # held-out-family predictions of the training rows: the calibration (and the logged CV figures)
        cv_mean, cv_spread2 = np.zeros(len(y)), np.zeros(len(y))
        for rows in family_folds(groups, CV_FOLDS):
            train = np.setdiff1d(np.arange(len(y)), rows)
            members = self._predictor().fit(X[train], y[train]).predict_members(X[rows])
            cv_mean[rows], cv_spread2[rows] = members.mean(axis=0), members.var(axis=0)
        self.predictor_ = self._predictor().fit(X, y)
        self.predictor_.noise_std_ = calibrated_noise(y, cv_mean, cv_spread2)
        self.cv_mean_, self.cv_std_ = cv_mean, np.sqrt(cv_spread2 + self.predictor_.noise_std_**2)
        self.cv_y_ = y
        # population: features for distances, measured accuracies for percentiles
        self.feature_mean_ = X.mean(axis=0)
        self.feature_std_ = np.maximum(X.std(axis=0), 1e-3)
        self.train_X_ = X
        self.train_names_ = list(names) if names is not None else [f"#{i}" for i in range(len(y))]
        self.y_sorted_ = np.sort(y)
        Z = (X - self.feature_mean_) / self.feature_std_
        d = np.sqrt(((Z[:, None, :] - Z[None]) ** 2).mean(axis=2))
        d[groups[:, None] == groups[None, :]] = np.inf  # how far a family is from the *other* families
        self.ood_threshold_ = OOD_MARGIN * float(np.quantile(d.min(axis=1), OOD_QUANTILE))
        return self

    def _features(self, graphs: Sequence[ArchGraph]) -> np.ndarray:
        return design_features(graphs)

    def predict(self, graphs: Sequence[ArchGraph], return_std: bool = False):
        """Predicted top-1 (%) of each graph, and with ``return_std=True`` its calibrated std."""
        X = self._features(graphs)
        return self.predictor_.predict(X, return_std=return_std)

    def nearest(self, graphs: Sequence[ArchGraph]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Per graph: the most similar training network, the RMS z-score to it, and an OOD flag.

        Out of distribution: farther from every training network than :attr:`ood_threshold_`, or
        any one feature more than one std beyond the range the training networks span (a network
        far smaller than any in the zoo is unlike all of them even if its other features are not).
        """
        Z = (self._features(graphs) - self.feature_mean_) / self.feature_std_
        T = (self.train_X_ - self.feature_mean_) / self.feature_std_
        d = np.sqrt(((Z[:, None, :] - T[None]) ** 2).mean(axis=2))
        which = d.argmin(axis=1)
        dist = d[np.arange(len(Z)), which]
        beyond = np.maximum(T.min(axis=0) - Z, Z - T.max(axis=0)).max(axis=1) > RANGE_MARGIN
        return [self.train_names_[i] for i in which], dist, (dist > self.ood_threshold_) | beyond

    def percentile(self, values: np.ndarray) -> np.ndarray:
        """Where each predicted accuracy falls among the training networks' measured ones, in (0, 1)."""
        n = len(self.y_sorted_)
        lo = np.searchsorted(self.y_sorted_, values, side="left")
        hi = np.searchsorted(self.y_sorted_, values, side="right")
        return (lo + hi + 1) / (2 * (n + 1))

    # -- persistence (the boosters as LightGBM text, the rest as JSON) --------------------------
    def state(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "predictor_params": self.predictor_params,
            "seed": self.seed,
            "noise_std": self.predictor_.noise_std_,
            "feature_mean": self.feature_mean_.tolist(),
            "feature_std": self.feature_std_.tolist(),
            "train_X": self.train_X_.tolist(),
            "train_names": self.train_names_,
            "y_sorted": self.y_sorted_.tolist(),
            "ood_threshold": self.ood_threshold_,
            "feature_names": list(FEATURE_NAMES),
        }

    def boosters(self) -> list:
        return [b.booster_ for b in self.predictor_.estimators_]

    @classmethod
    def from_state(cls, state: dict[str, Any], boosters: list) -> AccuracyHead:
        from archscore.predictors.gbdt import LoadedBooster

        if state.get("feature_names") != list(FEATURE_NAMES):
            raise ValueError("the head was saved with other design features than this archscore computes")
        head = cls(state["dataset"], state["predictor_params"], state["seed"])
        pred = head._predictor()
        pred.estimators_ = [LoadedBooster(b) for b in boosters]
        pred.noise_std_ = float(state["noise_std"])
        pred.n_features_in_ = len(FEATURE_NAMES)
        head.predictor_ = pred
        head.feature_mean_ = np.asarray(state["feature_mean"], dtype=np.float64)
        head.feature_std_ = np.asarray(state["feature_std"], dtype=np.float64)
        head.train_X_ = np.asarray(state["train_X"], dtype=np.float64)
        head.train_names_ = list(state["train_names"])
        head.y_sorted_ = np.asarray(state["y_sorted"], dtype=np.float64)
        head.ood_threshold_ = float(state["ood_threshold"])
        return head
