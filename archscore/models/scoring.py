"""A ready-to-use predictor over architectures: encoders → predictor, with what it was trained on.

:class:`ScoringModel` is what archscore ships, registers in MLflow and serves. It takes ArchGraphs
(or ONNX files, bytes, models), encodes them, and returns the predicted target with a std. It
remembers what it needs to score an architecture *alone*, without its search space at hand:

* **Reference populations.** A NAS benchmark's accuracy depends on an architecture's size *relative
  to its space* far more than on its absolute MACs (the zero-shot benchmark's finding). The ``z``
  part is :class:`~archscore.encoders.population.PopulationEncoder`: each free statistic
  standardised against a population of architectures. Every training task leaves its population's
  mean and std in the model; an architecture is then standardised against the population it is
  closest to (``reference="nearest"``), or against the batch it is scored with
  (``reference="batch"``, for ranking a large set of candidates from a space the model never
  saw), or against a named one.
* **Out-of-distribution distance.** The same closeness, as the root-mean-square z-score to the
  nearest population: rows far beyond what the training rows themselves showed are flagged.

Targets: with ``target_transform="percentile"`` every task's target becomes its rank within the
task (a percentile in (0, 1)), so tasks measured in different units train one model and the
prediction reads "how good within its own space". With ``"none"`` the raw values are learned (one
task, or tasks in one unit).

Persistence (:meth:`ScoringModel.save` / :meth:`ScoringModel.load`) is a folder: ``model.json``
(configuration, populations, metadata) and the predictor (LightGBM boosters as their own text
format; other predictors with joblib, their library versions recorded and checked on load).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from archscore.data.tasks import Rows
from archscore.encoders.population import PopulationEncoder
from archscore.errors import ArchscoreError, UnknownNameError
from archscore.graph import ArchGraph
from archscore.metrics import Z90
from archscore.models.inputs import as_graphs

log = logging.getLogger(__name__)

ENCODERS = ("stats", "z", "gnn", "text")
"""Encoder parts a ScoringModel composes (``+``-joined in configurations: ``stats+z``)."""
PREDICTORS = ("gbdt", "mlp", "cluster")
TRANSFORMS = ("percentile", "none")
FORMAT_VERSION = 1
OOD_QUANTILE = 0.99
OOD_MARGIN = 1.25
"""An architecture is out of distribution beyond ``OOD_MARGIN`` × the 99th percentile of the
training rows' own distances to their nearest population."""


class ModelFormatError(ArchscoreError):
    """A saved model folder that is missing, incomplete, corrupted or from an incompatible version."""


def _interval(mean: float, std: float, scale: tuple[float, float]) -> list[float]:
    """The 90 % interval of a normal prediction, clipped to the target's scale."""
    return [float(max(mean - Z90 * std, scale[0])), float(min(mean + Z90 * std, scale[1]))]


def percentile(y: np.ndarray) -> np.ndarray:
    """Each value's rank within ``y`` as a percentile in (0, 1) (ties share their mean rank)."""
    y = np.asarray(y, dtype=np.float64)
    return (rankdata(y) - 0.5) / len(y)


def parse_parts(encoder: str | Sequence[str]) -> tuple[str, ...]:
    parts = tuple(encoder.split("+")) if isinstance(encoder, str) else tuple(encoder)
    bad = [p for p in parts if p not in ENCODERS]
    if bad or not parts:
        raise UnknownNameError(f"unknown encoder part(s) {bad or parts!r}; compose from {', '.join(ENCODERS)}")
    if "z" in parts and len(set(parts)) != len(parts):
        raise UnknownNameError(f"encoder parts repeat: {'+'.join(parts)}")
    return parts


def make_predictor(name: str, params: dict[str, Any] | None = None, seed: int | None = 0):
    """A fresh predictor by name (see :data:`PREDICTORS`) with its hyperparameters."""
    from archscore.predictors import ClusterEnsembleRegressor, GBDTRegressor, MLPEnsembleRegressor

    classes = {"gbdt": GBDTRegressor, "mlp": MLPEnsembleRegressor, "cluster": ClusterEnsembleRegressor}
    if name not in classes:
        raise UnknownNameError(f"unknown predictor {name!r}; choose one of {', '.join(classes)}")
    cls = classes[name]
    params = dict(params or {})
    valid = set(cls().get_params())
    bad = sorted(set(params) - valid)
    if bad:
        raise UnknownNameError(f"{name} has no hyperparameter(s) {', '.join(bad)}; valid: {', '.join(sorted(valid))}")
    if "random_state" in valid:
        params.setdefault("random_state", seed)
    return cls(**params)


def rank_order(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Indices of scored rows (:meth:`ScoringModel.score`), best first.

    Rows of one target are ordered by ``mean``; rows of several targets (a real network's top-1
    beside a cell's percentile) by their ``percentile`` within their own population, the one
    scale they share.
    """
    key = "mean" if len({r["target"] for r in rows}) <= 1 else "percentile"
    return sorted(range(len(rows)), key=lambda i: -(rows[i][key] if rows[i][key] is not None else -np.inf))


class ScoringModel:
    """Encoders and a predictor fitted together on one or more labelled tasks.

    Args:
        target: Name of the predicted quantity (e.g. ``"accuracy_percentile"``).
        encoder: Encoder parts joined by ``+`` (see :data:`ENCODERS`).
        predictor: Predictor name (see :data:`PREDICTORS`) and ``predictor_params`` its settings.
        target_transform: ``"percentile"`` (within each task) or ``"none"``.
        seed: Seed of the predictor.
        metadata: Free-form facts stored with the model (data, versions, run id …).
    """

    def __init__(
        self,
        target: str = "accuracy_percentile",
        encoder: str = "stats+z",
        predictor: str = "gbdt",
        predictor_params: dict[str, Any] | None = None,
        target_transform: str = "percentile",
        seed: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.target = target
        self.encoder = encoder
        self.predictor = predictor
        self.predictor_params = dict(predictor_params or {})
        self.target_transform = target_transform
        self.seed = seed
        self.metadata = dict(metadata or {})
        self._encoders: dict[str, Any] = {}

    # -- encoding ------------------------------------------------------------------------------
    @property
    def parts(self) -> tuple[str, ...]:
        return parse_parts(self.encoder)

    def _stats(self, graphs: list[ArchGraph]) -> np.ndarray:
        from archscore.encoders import StatsEncoder

        enc = self._encoders.setdefault("stats", StatsEncoder(drop_constant=False))
        return enc.statistics(graphs)

    # the reference populations, kept by the z part (the names the model file and its card use)
    @property
    def population_names_(self) -> list[str]:
        return self.z_.names_

    @property
    def population_mean_(self) -> np.ndarray:
        return self.z_.mean_

    @property
    def population_std_(self) -> np.ndarray:
        return self.z_.std_

    def features(self, graphs: list[ArchGraph], reference: str | list[ArchGraph] | None = None) -> np.ndarray:
        """The feature matrix of ``graphs``; ``reference`` chooses the population of the ``z`` part."""
        return self._features(graphs, self._stats(graphs), reference)

    def _features(self, graphs: list[ArchGraph], stats: np.ndarray, reference) -> np.ndarray:
        """:meth:`features` from the graphs' statistics, already computed."""
        blocks = []
        for part in self.parts:
            if part == "stats":
                blocks.append(stats)
            elif part == "z":
                if reference is not None and not isinstance(reference, str):
                    reference = self._stats(as_graphs(reference))  # a population given as architectures
                blocks.append(self.z_.standardise(stats, reference))
            else:
                blocks.append(self._embed(part, graphs))
        return np.hstack(blocks) if blocks else np.zeros((len(graphs), 0))

    def _embed(self, part: str, graphs: list[ArchGraph]) -> np.ndarray:
        if part not in self._encoders:
            from archscore.encoders import make_encoder

            enc = make_encoder(part, pretrained="default") if part == "gnn" else make_encoder(part)
            self._encoders[part] = enc.fit(graphs[:1])
        return self._encoders[part].transform(graphs)

    # -- fit / predict ---------------------------------------------------------------------------
    def fit(self, groups: Sequence[Rows]) -> ScoringModel:
        """Fit on labelled tasks: populations from each task, one predictor on all rows."""
        if self.target_transform not in TRANSFORMS:
            raise UnknownNameError(f"unknown target_transform {self.target_transform!r}; choose {TRANSFORMS}")
        self.parts  # noqa: B018 - validates the encoder string before any work
        if not groups:
            raise ValueError("ScoringModel.fit needs at least one labelled task")
        names, pops, own = [], [], []
        Xs, ys = [], []
        for g in groups:
            y = np.asarray(g.y, dtype=np.float64)
            if len(g.graphs) != len(y) or len(y) < 2:
                raise ValueError(
                    f"task {g.task!r}: {len(g.graphs)} graphs and {len(y)} labels (need ≥ 2 of each, equal)"
                )
            if not np.isfinite(y).all():
                raise ValueError(f"task {g.task!r}: labels must be finite numbers")
            own.append(self._stats(g.graphs))
            pops.append(own[-1] if g.population is None else self._stats(g.population))
            names.append(g.task)
        self.z_ = PopulationEncoder().set_populations(names, pops)
        for g, stats in zip(groups, own):
            Xs.append(self._features(g.graphs, stats, reference=g.task))
            y = np.asarray(g.y, dtype=np.float64)
            ys.append(percentile(y) if self.target_transform == "percentile" else y)
        X = np.vstack(Xs)
        self.predictor_ = make_predictor(self.predictor, self.predictor_params, self.seed).fit(X, np.concatenate(ys))
        # how far training rows sit from their nearest population: the out-of-distribution threshold
        _, d = self.z_.nearest(np.vstack(own))
        self.ood_threshold_ = OOD_MARGIN * float(np.quantile(d, OOD_QUANTILE))
        self.n_train_ = len(X)
        self.n_features_in_ = int(X.shape[1])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "predictor_"):
            raise ArchscoreError("this ScoringModel is not fitted; call fit() or load a saved model")

    def predict(self, archs, return_std: bool = False, reference: str | list | None = None):
        """Predicted target of each architecture (ArchGraphs, ONNX paths, bytes or models).

        Returns ``mean`` or, with ``return_std=True``, ``(mean, std)``.
        """
        self._check_fitted()
        graphs = as_graphs(archs)
        if not graphs:
            return (np.zeros(0), np.zeros(0)) if return_std else np.zeros(0)
        return self.predictor_.predict(self.features(graphs, reference), return_std=return_std)

    def distance(self, archs) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Per architecture: the nearest population's name, the RMS z-score to it, and an OOD flag."""
        self._check_fitted()
        return self._distance(self._stats(as_graphs(archs)))

    def _distance(self, stats: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        which, d = self.z_.nearest(stats)
        return [self.population_names_[i] for i in which], d, d > self.ood_threshold_

    def fit_heads(self, sets: dict[str, tuple[list[ArchGraph], np.ndarray, list[str], list[str]]]) -> ScoringModel:
        """Fit the real-network accuracy heads: per zoo dataset, (graphs, top-1 %, families, names).

        A network whose interface is that dataset's classifier (see
        :func:`~archscore.models.realnet.classifier_setting`) is then answered in top-1 % by
        :meth:`score` (see there); the percentile model is unchanged.
        """
        from archscore.models.realnet import AccuracyHead

        self.heads_ = {
            ds: AccuracyHead(ds, seed=self.seed).fit(graphs, y, families, names)
            for ds, (graphs, y, families, names) in sets.items()
        }
        return self

    def score(self, archs, reference: str | list | None = None) -> list[dict[str, Any]]:
        """Per architecture, what the CLI and service report.

        ``mean``, ``std`` and the 90 % ``interval`` of the ``target`` for the named ``population``;
        its ``percentile`` within that population; ``macs`` and ``params``; the ``nearest`` thing
        the model learned from, the ``distance`` to it and the ``ood`` flag.

        Which answer: a network that is an ImageNet-1K classifier by its interface, or a CIFAR one
        that is far from every NAS benchmark population, gets the real-network head of its
        dataset (``target`` ``imagenet1k_top1`` …, in %, ``population`` ``zoo/imagenet1k``,
        ``nearest`` the most similar labelled network; its std no narrower than the spread of the
        zoo's accuracies when it is ``ood``); every other architecture gets the
        within-space percentile (``target`` the model's, ``population`` its nearest benchmark task).
        """
        from archscore.models.realnet import classifier_setting

        self._check_fitted()
        graphs = as_graphs(archs)
        if not graphs:
            return []
        stats = self._stats(graphs)  # once, for both the features and the distance
        mean, std = self.predictor_.predict(self._features(graphs, stats, reference), return_std=True)
        nearest, distance, ood = self._distance(stats)
        ranks = self.target_transform == "percentile"  # else raw values of one task: no scale to clip to
        scale = (0.0, 1.0) if ranks else (-np.inf, np.inf)
        mean = np.clip(mean, *scale)  # an ensemble can step past the ends of the scale: a percentile is in [0, 1]
        rows = [
            {
                "mean": float(m),
                "std": float(s),
                "interval": _interval(m, s, scale),
                "target": self.target,
                "population": n,
                "percentile": float(m) if ranks else None,
                "macs": int(g.total_macs),
                "params": int(g.total_params),
                "nearest": n,
                "distance": float(d),
                "ood": bool(o),
                "warnings": list(g.meta.get("warnings", ())),
            }
            for g, m, s, n, d, o in zip(graphs, mean, std, nearest, distance, ood)
        ]
        heads = getattr(self, "heads_", {})
        routed: dict[str, list[int]] = {}
        for i, g in enumerate(graphs):
            setting = classifier_setting(g)
            if setting in heads and (setting == "imagenet1k" or rows[i]["ood"]):
                routed.setdefault(setting, []).append(i)
        for setting, idx in routed.items():
            head = heads[setting]
            sub = [graphs[i] for i in idx]
            m, s = head.predict(sub, return_std=True)
            m = np.clip(m, 0.0, 100.0)  # top-1 in %
            near, dist, far = head.nearest(sub)
            # unlike every zoo network, the calibration says nothing: no narrower than the zoo's own spread
            s = np.where(far, np.maximum(s, head.y_sorted_.std()), s)
            for k, i in enumerate(idx):
                rows[i].update(
                    mean=float(m[k]),
                    std=float(s[k]),
                    interval=_interval(m[k], s[k], (0.0, 100.0)),
                    target=f"{setting}_top1",
                    population=f"zoo/{setting}",
                    percentile=float(head.percentile(m[k : k + 1])[0]),
                    nearest=near[k],
                    distance=float(dist[k]),
                    ood=bool(far[k]),
                )
        return rows

    # -- persistence -----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "encoder": self.encoder,
            "predictor": self.predictor,
            "predictor_params": self.predictor_params,
            "target_transform": self.target_transform,
            "seed": self.seed,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to the folder ``path`` (created; files in it are replaced atomically)."""
        self._check_fitted()
        import lightgbm
        import sklearn

        from archscore import __version__

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        pred = self.predictor_
        if self.predictor == "gbdt":
            state = {"noise_std_": pred.noise_std_, "n_features_in_": pred.n_features_in_}
            for i, b in enumerate(pred.estimators_):
                name = f"member_{i}.lgb.txt"
                _write_atomic(folder / name, b.booster_.model_to_string().encode())
                files[name] = _sha256(folder / name)
        else:
            import joblib

            state = {}
            tmp = folder / "predictor.joblib.tmp"
            joblib.dump(pred, tmp)
            os.replace(tmp, folder / "predictor.joblib")
            files["predictor.joblib"] = _sha256(folder / "predictor.joblib")
        heads = {}
        for ds, head in getattr(self, "heads_", {}).items():
            names = []
            for i, b in enumerate(head.boosters()):
                name = f"head_{ds}_{i}.lgb.txt"
                _write_atomic(folder / name, b.model_to_string().encode())
                files[name] = _sha256(folder / name)
                names.append(name)
            heads[ds] = {"state": head.state(), "boosters": names}
        doc = {
            "format": FORMAT_VERSION,
            "heads": heads,
            "config": self.config(),
            "metadata": self.metadata,
            "populations": {
                "names": self.population_names_,
                "mean": self.population_mean_.tolist(),
                "std": self.population_std_.tolist(),
            },
            "ood_threshold": self.ood_threshold_,
            "n_train": self.n_train_,
            "n_features_in": self.n_features_in_,
            "predictor_state": state,
            "files": files,
            "versions": {
                "archscore": __version__,
                "lightgbm": lightgbm.__version__,
                "scikit-learn": sklearn.__version__,
            },
        }
        _write_atomic(folder / "model.json", json.dumps(doc, indent=1).encode())
        manifest = {"model.json": _sha256(folder / "model.json"), **files}
        _write_atomic(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike) -> ScoringModel:
        """Read a model folder written by :meth:`save`, verified whole first.

        ``MANIFEST.json`` lists every file the model is read from (``model.json`` included) with its
        SHA-256; a missing, changed or extra-path entry refuses the folder with one
        :class:`ModelFormatError`. The library versions the model was saved with are compared with
        the installed ones: a pickled predictor (non-GBDT) from another scikit-learn is refused,
        other differences are warned about, naming both versions.
        """
        folder = Path(path)
        doc = _verified(folder)
        try:
            return cls._from_doc(folder, doc)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            if isinstance(e, ModelFormatError):
                raise
            raise ModelFormatError(f"{folder}: model.json lacks or garbles {e} (saved by another archscore?)") from None

    @classmethod
    def _from_doc(cls, folder: Path, doc: dict) -> ScoringModel:
        _check_versions(folder, doc)
        model = cls(**doc["config"], metadata=doc.get("metadata"))
        pops = doc["populations"]
        model.z_ = PopulationEncoder()
        model.z_.names_ = list(pops["names"])
        model.z_.mean_ = np.asarray(pops["mean"], dtype=np.float64)
        model.z_.std_ = np.asarray(pops["std"], dtype=np.float64)
        model.z_.n_features_in_ = int(model.z_.mean_.shape[1])
        model.ood_threshold_ = float(doc["ood_threshold"])
        model.n_train_ = int(doc["n_train"])
        model.n_features_in_ = int(doc["n_features_in"])
        if model.predictor == "gbdt":
            import lightgbm

            from archscore.predictors.gbdt import LoadedBooster

            pred = make_predictor("gbdt", model.predictor_params, model.seed)
            names = sorted(
                (n for n in doc["files"] if n.startswith("member_")), key=lambda n: int(n.split("_")[1].split(".")[0])
            )
            pred.estimators_ = [LoadedBooster(lightgbm.Booster(model_str=(folder / n).read_text())) for n in names]
            pred.noise_std_ = float(doc["predictor_state"]["noise_std_"])
            pred.n_features_in_ = int(doc["predictor_state"]["n_features_in_"])
        else:
            import joblib

            pred = joblib.load(folder / "predictor.joblib")
        model.predictor_ = pred
        if doc.get("heads"):
            import lightgbm

            from archscore.models.realnet import AccuracyHead

            model.heads_ = {}
            for ds, h in doc["heads"].items():
                boosters = [lightgbm.Booster(model_str=(folder / n).read_text()) for n in h["boosters"]]
                try:
                    model.heads_[ds] = AccuracyHead.from_state(h["state"], boosters)
                except (KeyError, ValueError) as e:
                    raise ModelFormatError(f"{folder}: real-network head {ds!r} unreadable ({e})") from None
        return model

    def __repr__(self) -> str:
        fitted = f", n_train={self.n_train_}" if hasattr(self, "n_train_") else ""
        return f"ScoringModel(target={self.target!r}, encoder={self.encoder!r}, predictor={self.predictor!r}{fitted})"


def _member_index(name: str) -> int:
    return int(name.split("_")[1].split(".")[0])


MANIFEST = "MANIFEST.json"
"""The file listing every file of a model folder with its SHA-256 (written last by ``save``)."""


def _verified(folder: Path) -> dict:
    """``model.json`` of ``folder`` once the whole folder matches its manifest."""
    if not (folder / "model.json").is_file():
        raise ModelFormatError(f"{str(folder)!r} is not an archscore model folder (no model.json)")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise ModelFormatError(
            f"{folder}: no {MANIFEST} (saved by an older archscore: load and save it again)"
        ) from None
    except (OSError, ValueError) as e:
        raise ModelFormatError(f"{folder / MANIFEST}: unreadable ({e})") from None
    if not isinstance(manifest, dict) or "model.json" not in manifest:
        raise ModelFormatError(f"{folder / MANIFEST}: not a manifest of a model folder")
    for name, digest in manifest.items():
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise ModelFormatError(f"{folder / MANIFEST}: entry {name!r} is not a file of the folder")
        if not (folder / name).is_file() or _sha256(folder / name) != digest:
            raise ModelFormatError(f"{folder / name}: missing or corrupted (checksum mismatch)")
    try:
        doc = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError) as e:
        raise ModelFormatError(f"{folder / 'model.json'}: unreadable ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_VERSION:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise ModelFormatError(f"{folder}: model format {found!r}, this archscore reads {FORMAT_VERSION}")
    listed = doc.get("files")
    if not isinstance(listed, dict) or not set(listed) <= set(manifest):
        raise ModelFormatError(f"{folder}: model.json names files its manifest does not cover")
    return doc


def _check_versions(folder: Path, doc: dict) -> None:
    """Refuse a pickled predictor from another scikit-learn; warn about other version differences."""
    import warnings

    import lightgbm
    import sklearn

    from archscore import __version__

    saved = doc.get("versions") or {}
    installed = {"archscore": __version__, "lightgbm": lightgbm.__version__, "scikit-learn": sklearn.__version__}
    differ = {k: (saved.get(k), v) for k, v in installed.items() if saved.get(k) != v}
    pickled = doc["config"]["predictor"] != "gbdt"
    if pickled and "scikit-learn" in differ:
        was, now = differ["scikit-learn"]
        raise ModelFormatError(
            f"{folder}: its predictor was pickled with scikit-learn {was}, this is {now}; "
            "retrain it, or install that scikit-learn"
        )
    if differ:
        listed = ", ".join(f"{k} {was} (now {now})" for k, (was, now) in differ.items())
        warnings.warn(f"{folder.name}: saved with {listed}; its predictions may differ slightly", stacklevel=3)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
