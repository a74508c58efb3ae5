"""ScoringModel on real benchmark rows: populations, references, OOD, persistence, and the shipped default."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archscore import metrics
from archscore.data.tasks import load_task, zero_shot_tasks
from archscore.errors import UnknownNameError
from archscore.examples import example_path, examples
from archscore.models import DEFAULT_MODEL, ModelFormatError, ScoringModel, load_predictor


def _tasks(*names, rows=80):
    return [t for t in zero_shot_tasks(rows, rows) if t.name in names]


@pytest.fixture(scope="module")
def rows():
    """Training and fixed evaluation rows of NB201-C10 and NB101 (small, real)."""
    return [load_task(t, 0.2, seed=0, eval_rows=60) for t in _tasks("nb201/cifar10", "nb101/cifar10")]


@pytest.fixture(scope="module")
def model(rows):
    groups = [tr for tr, _ in rows]
    return ScoringModel(predictor_params={"n_members": 3, "n_estimators": 150}).fit(groups)


def test_ranks_unseen_rows_of_its_spaces(model, rows):
    for _, ev in rows:
        mean, std = model.predict(ev.graphs, return_std=True)
        assert mean.shape == std.shape == (len(ev),)
        assert (std > 0).all()
        # far above chance (τ≈0 ± 0.1 at 60 rows); the benchmark measures the real level
        assert metrics.kendall_tau(ev.y, mean) > 0.35, ev.task


def test_nearest_population_is_the_architectures_own_space(model, rows):
    for _, ev in rows:
        names, _, ood = model.distance(ev.graphs)
        assert names.count(ev.task) / len(names) > 0.95
        assert ood.mean() < 0.1


def test_a_foreign_network_is_flagged_out_of_distribution(model):
    _, distance, ood = model.distance([example_path(e) for e in examples()])
    assert ood.all(), distance
    assert (distance > model.ood_threshold_).all()


def test_references(model, rows):
    graphs = rows[0][1].graphs
    nearest = model.predict(graphs)
    named = model.predict(graphs, reference="nb201/cifar10")
    np.testing.assert_allclose(nearest, named)  # every NB201 row's nearest population is its own
    assert not np.allclose(model.predict(graphs, reference="nb101/cifar10"), named)
    assert model.predict(graphs, reference="batch").shape == (len(graphs),)
    with pytest.raises(ValueError, match="at least 2"):
        model.predict(graphs[:1], reference="batch")
    with pytest.raises(UnknownNameError, match="nb201/cifar10"):
        model.predict(graphs, reference="nb999")


def test_accepts_onnx_paths_and_bytes(model):
    path = example_path("resnet_small")
    a = model.predict([path])
    b = model.predict([path.read_bytes()])
    np.testing.assert_allclose(a, b)


def test_save_load_round_trip_is_exact(model, rows, tmp_path):
    model.save(tmp_path / "m")
    back = ScoringModel.load(tmp_path / "m")
    graphs = rows[0][1].graphs
    for a, b in zip(model.predict(graphs, return_std=True), back.predict(graphs, return_std=True)):
        np.testing.assert_array_equal(a, b)
    assert back.config() == model.config()
    assert back.population_names_ == model.population_names_


def test_a_corrupted_or_missing_model_file_is_refused(model, tmp_path):
    folder = model.save(tmp_path / "m")
    member = next(folder.glob("member_*.lgb.txt"))
    member.write_text(member.read_text().replace("tree", "tres", 1))
    with pytest.raises(ModelFormatError, match="checksum"):
        ScoringModel.load(folder)
    member.unlink()
    with pytest.raises(ModelFormatError, match="missing or corrupted"):
        ScoringModel.load(folder)
    with pytest.raises(ModelFormatError, match=r"no model\.json"):
        ScoringModel.load(tmp_path / "nowhere")
    (folder / "model.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="missing or corrupted"):
        ScoringModel.load(folder)


def test_the_whole_folder_is_verified_model_json_and_manifest_included(model, tmp_path):
    import json

    folder = model.save(tmp_path / "m")
    doc = (folder / "model.json").read_text()
    flipped = doc.replace('"ood_threshold": 1', '"ood_threshold": 0', 1)  # one digit: a bit flip in a number
    assert flipped != doc
    (folder / "model.json").write_text(flipped)
    with pytest.raises(ModelFormatError, match=r"model\.json: missing or corrupted"):
        ScoringModel.load(folder)
    (folder / "model.json").write_text(doc)
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    for bad in (
        {**manifest, "../../../../etc/hostname": "0" * 64},
        {k: v for k, v in manifest.items() if k != "model.json"},
    ):
        (folder / "MANIFEST.json").write_text(json.dumps(bad))
        with pytest.raises(ModelFormatError, match=r"not a file of the folder|not a manifest"):
            ScoringModel.load(folder)
    (folder / "MANIFEST.json").unlink()
    with pytest.raises(ModelFormatError, match=r"no MANIFEST\.json"):
        ScoringModel.load(folder)
    # a model.json without its keys (re-hashed, as a careless hand edit would be): one clear error, no KeyError
    import hashlib

    (folder / "model.json").write_text(json.dumps({"format": 1, "files": {}}))
    digest = hashlib.sha256((folder / "model.json").read_bytes()).hexdigest()
    (folder / "MANIFEST.json").write_text(json.dumps({"model.json": digest}))
    with pytest.raises(ModelFormatError, match="lacks or garbles"):
        ScoringModel.load(folder)


def test_versions_it_was_saved_with_are_compared_on_load(model, tmp_path):
    import hashlib
    import json

    folder = model.save(tmp_path / "m")
    doc = json.loads((folder / "model.json").read_text())
    doc["versions"]["lightgbm"] = "0.1"
    (folder / "model.json").write_text(json.dumps(doc))
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    manifest["model.json"] = hashlib.sha256((folder / "model.json").read_bytes()).hexdigest()
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match=r"lightgbm 0\.1 \(now"):
        ScoringModel.load(folder)


def test_other_predictors_persist_too(rows, tmp_path):
    tr = rows[0][0]
    m = ScoringModel(predictor="mlp", predictor_params={"n_members": 2, "epochs": 30}, target_transform="none")
    m.fit([tr])
    back = ScoringModel.load(m.save(tmp_path / "mlp"))
    np.testing.assert_allclose(back.predict(tr.graphs[:5]), m.predict(tr.graphs[:5]))


def test_bad_configurations_are_named():
    with pytest.raises(UnknownNameError, match="compose from"):
        ScoringModel(encoder="stats+wl").fit([])
    with pytest.raises(ValueError, match="at least one"):
        ScoringModel().fit([])
    with pytest.raises(UnknownNameError, match="no hyperparameter"):
        from archscore.models.scoring import make_predictor

        make_predictor("gbdt", {"n_trees": 3})


def test_the_shipped_default_model_scores_offline():
    card = DEFAULT_MODEL / "MODEL_CARD.md"
    assert card.is_file() and "## Limits" in card.read_text()
    size = sum(p.stat().st_size for p in DEFAULT_MODEL.iterdir())
    assert size < 30e6
    model = load_predictor("default")
    doc = json.loads((DEFAULT_MODEL / "model.json").read_text())
    assert model.population_names_ == doc["populations"]["names"]
    assert {"nb201/cifar10", "nb101/cifar10", "nbgraph/cora"} <= set(model.population_names_)
    mean, std = model.predict([example_path(e) for e in examples()], return_std=True)
    assert ((mean > -0.5) & (mean < 1.5)).all() and (std > 0).all()
