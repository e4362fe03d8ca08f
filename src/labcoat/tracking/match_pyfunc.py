"""A match model as an MLflow pyfunc model: ``mlflow.pyfunc.load_model(folder_or_uri)``
``.predict(records, params={"k": 5})`` gives :meth:`MatchModel.find`'s table (each new
record's best candidates among the fitted records).

Examples
--------
>>> import mlflow.pyfunc                                                               # doctest: +SKIP
>>> mlflow.pyfunc.load_model("people-match").predict(new_people, params={"k": 3})     # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from labcoat.tasks.match.model import MatchModel


class MatchPyfunc:
    """What MLflow's pyfunc loader returns for a match model."""

    def __init__(self, model: MatchModel) -> None:
        self.model = model

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """The best ``k`` (param, default 5) fitted records for each record of ``model_input``."""
        return self.model.find(model_input, k=int((params or {}).get("k", 5)))


def _load_pyfunc(path: str) -> MatchPyfunc:
    """MLflow's entry point (``loader_module`` in the ``MLmodel`` file)."""
    return MatchPyfunc(MatchModel.load(path))
