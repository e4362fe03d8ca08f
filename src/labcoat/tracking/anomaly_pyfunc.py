"""An anomaly model as an MLflow pyfunc model: ``mlflow.pyfunc.load_model(folder_or_uri)``
``.predict(rows)`` gives :meth:`AnomalyModel.predict`'s table (``anomaly_score``, ``is_anomaly``
and ``reasons`` per row).

Examples
--------
>>> import mlflow.pyfunc                                                               # doctest: +SKIP
>>> mlflow.pyfunc.load_model("models:/fraud/1").predict(transactions)["is_anomaly"].sum()  # doctest: +SKIP
12
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from labcoat.tasks.anomaly.model import AnomalyModel


class AnomalyPyfunc:
    """What MLflow's pyfunc loader returns for an anomaly model."""

    def __init__(self, model: AnomalyModel) -> None:
        self.model = model

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Each row's score (0 to 1, higher is more unusual), flag and reasons."""
        return self.model.predict(model_input)


def _load_pyfunc(path: str) -> AnomalyPyfunc:
    """MLflow's entry point (``loader_module`` in the ``MLmodel`` file)."""
    return AnomalyPyfunc(AnomalyModel.load(path))
