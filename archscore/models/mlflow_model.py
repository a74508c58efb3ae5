"""archscore's MLflow model, logged "from code": this file is the model's code, its fitted state an artefact.

MLflow loads this file and the ``model`` artefact (a :class:`~archscore.models.scoring.ScoringModel`
folder) — no pickled Python object is involved. Input: a DataFrame (or the records of
``mlflow models serve``'s ``dataframe_records``) whose rows name architectures by ``onnx_base64``
or ``space`` + ``cell`` (+ ``dataset``); a file path is never accepted, so a served model cannot be
made to open, probe or score the server's files. ONNX is parsed under the service's
:class:`~archscore.models.inputs.Limits` (nodes, bytes, a killed-at-its-limit parse per row, capped
memory), and bad input is refused with one line naming every bad row, never a stack trace.
Output: one row per input with ``mean``, ``std`` and the 90 % interval (``low``, ``high``) of the
row's ``target`` for its ``population`` (top-1 % for a real network, see :meth:`ScoringModel.score`), its ``percentile``
there, the nearest thing the model learned from, the distance to it and the out-of-distribution flag.
"""

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ArchscoreModel(PythonModel):
    def load_context(self, context) -> None:
        from archscore.models.inputs import Limits
        from archscore.models.scoring import ScoringModel

        self.model = ScoringModel.load(context.artifacts["model"])
        self.parser = Limits().parser()

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from archscore.errors import ArchscoreError
        from archscore.models.inputs import read_records

        if isinstance(model_input, pd.DataFrame):
            records = model_input.to_dict(orient="records")
        else:
            records = list(model_input)
        reference = (params or {}).get("reference") or "nearest"
        try:
            archs = read_records(records, "model input", paths=False, parser=self.parser)
            rows = self.model.score([a.graph for a in archs], reference=reference)
        except (ArchscoreError, ValueError) as e:  # one line naming the problem, no stack trace
            raise MlflowException(" | ".join(str(e).splitlines()), error_code=INVALID_PARAMETER_VALUE) from None
        columns = ("mean", "std", "target", "population", "percentile", "nearest", "distance", "ood")
        return pd.DataFrame(
            [{"id": a.id, **{k: r[k] for k in columns}, "low": r["interval"][0], "high": r["interval"][1]}
             for a, r in zip(archs, rows)]
        )  # fmt: skip


mlflow.models.set_model(ArchscoreModel())
