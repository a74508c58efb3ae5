"""archscore's MLflow model, logged "from code": this file is the model's code, its fitted state an artefact.

MLflow loads this file and the ``model`` artefact (a :class:`~archscore.models.scoring.ScoringModel`
folder) — no pickled Python object is involved. Input: a DataFrame (or the records of
``mlflow models serve``'s ``dataframe_records``) whose rows name architectures by ``onnx`` (a
path), ``onnx_base64``, or ``space`` + ``cell`` (+ ``dataset``). Output: one row per input with
``mean``, ``std`` and the 90 % interval (``low``, ``high``) of the row's ``target`` for its
``population`` (top-1 % for a real network, see :meth:`ScoringModel.score`), its ``percentile``
there, the nearest thing the model learned from, the distance to it and the out-of-distribution flag.
"""

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ArchscoreModel(PythonModel):
    def load_context(self, context) -> None:
        from archscore.models.scoring import ScoringModel

        self.model = ScoringModel.load(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from archscore.models.inputs import read_records

        if isinstance(model_input, pd.DataFrame):
            records = model_input.to_dict(orient="records")
        else:
            records = list(model_input)
        archs = read_records(records, "model input")
        reference = (params or {}).get("reference") or "nearest"
        rows = self.model.score([a.graph for a in archs], reference=reference)
        columns = ("mean", "std", "target", "population", "percentile", "nearest", "distance", "ood")
        return pd.DataFrame(
            [{"id": a.id, **{k: r[k] for k in columns}, "low": r["interval"][0], "high": r["interval"][1]}
             for a, r in zip(archs, rows)]
        )  # fmt: skip


mlflow.models.set_model(ArchscoreModel())
