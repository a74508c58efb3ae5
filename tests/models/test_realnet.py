"""Real-network accuracy heads: which networks they answer for, what they learn from the zoo, and persistence."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from archscore import from_onnx, metrics
from archscore.data.zoo import zoo_rows
from archscore.models import ScoringModel
from archscore.models.realnet import FEATURE_NAMES, AccuracyHead, classifier_setting, design_features
from archscore.testing.onnx_build import model, weight


def _classifier(side: int, classes: int, channels: int = 3):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "b"], ["y"], transB=1),
    ]
    inits = [weight("w", 8, channels, 3, 3), weight("fc", classes, 8), weight("b", classes)]
    return from_onnx(model(nodes, {"x": [1, channels, side, side]}, ["y"], inits))


@pytest.mark.parametrize(
    ("side", "classes", "channels", "expected"),
    [(224, 1000, 3, "imagenet1k"), (299, 1001, 3, "imagenet1k"), (32, 10, 3, "cifar10"), (32, 100, 3, "cifar100"),
     (224, 10, 3, None), (32, 1000, 3, None), (224, 1000, 1, None), (64, 37, 3, None)],
)  # fmt: skip
def test_the_interface_decides_which_benchmark_a_network_is_for(side, classes, channels, expected):
    assert classifier_setting(_classifier(side, classes, channels)) == expected


@pytest.fixture(scope="module")
def imagenet():
    return zoo_rows("imagenet1k")


def test_design_features_are_finite_and_named(imagenet):
    X = design_features(imagenet.graphs[:50])
    assert X.shape == (50, len(FEATURE_NAMES)) and np.isfinite(X).all()
    assert np.ptp(X, axis=0).min() >= 0 and (np.ptp(X, axis=0) > 0).sum() > len(FEATURE_NAMES) // 2


def test_a_head_ranks_a_family_it_never_saw(imagenet):
    """Trained without RegNets, the head ranks the RegNets by measured top-1 far better than chance."""
    held = np.array([f == "regnet" for f in imagenet.families])
    assert held.sum() >= 20
    train, test = imagenet.take(np.flatnonzero(~held)), imagenet.take(np.flatnonzero(held))
    head = AccuracyHead(predictor_params={"n_members": 3}).fit(train.graphs, train.y, train.families, train.names)
    mean, std = head.predict(test.graphs, return_std=True)
    assert metrics.kendall_tau(test.y, mean) > 0.5
    assert (std > 0).all() and metrics.mae(test.y, mean) < 6.0
    names, dist, ood = head.nearest(test.graphs)
    assert all(n in train.names for n in names) and (dist >= 0).all() and not ood.all()


def test_a_network_unlike_any_in_the_zoo_is_flagged(imagenet):
    head = AccuracyHead(predictor_params={"n_members": 2}).fit(imagenet.graphs, imagenet.y, imagenet.families)
    _, _, ood = head.nearest([_classifier(224, 1000)])  # one convolution: nothing like a real network
    assert ood.all()


def test_heads_travel_with_the_saved_model(tmp_path, imagenet):
    from archscore.data.tasks import Rows

    small = imagenet.take(np.arange(0, len(imagenet), 3))
    m = ScoringModel(predictor_params={"n_members": 2}).fit([Rows("zoo", list(small.names), small.graphs, small.y)])
    m.fit_heads({"imagenet1k": (small.graphs, small.y, small.families, small.names)})
    before = m.score(imagenet.graphs[:5])
    loaded = ScoringModel.load(m.save(tmp_path / "m"))
    after = loaded.score(imagenet.graphs[:5])
    assert before == after
    assert {r["target"] for r in after} == {"imagenet1k_top1"} and {r["population"] for r in after} == {
        "zoo/imagenet1k"
    }
    for r in after:
        assert r["interval"][0] < r["mean"] < r["interval"][1] and 0 < r["percentile"] < 1
