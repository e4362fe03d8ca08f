"""A recommender as an MLflow pyfunc model: ``mlflow.pyfunc.load_model(folder_or_uri)``
``.predict(users, params={"k": 5})`` gives :meth:`RecommendModel.recommend`'s table.

``RecommendModel.save`` writes an ``MLmodel`` beside labcoat's own files naming this module
as the pyfunc loader, so a saved folder, a run's ``model/`` and a registered version all load
in MLflow without labcoat's API.

Examples
--------
>>> import mlflow.pyfunc                                                           # doctest: +SKIP
>>> mlflow.pyfunc.load_model("shop-model").predict(pd.DataFrame({"user_id": ["u1"]}), params={"k": 5})  # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from labcoat.errors import DataError
from labcoat.tasks.recommend.model import RecommendModel


class RecommendPyfunc:
    """What MLflow's pyfunc loader returns for a recommender."""

    def __init__(self, model: RecommendModel) -> None:
        self.model = model

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """The top ``k`` items (params ``k``, default 10; ``exclude_seen``, default true) of the
        users in ``model_input``'s user column (and, for new users, their segment)."""
        params = params or {}
        column = str(self.model.info.get("user", "user"))
        if column not in model_input.columns:
            raise DataError(f"The input has no {column!r} column: give one row per user to recommend to.")
        return self.model.recommend(model_input, k=int(params.get("k", 10)),
                                    exclude_seen=bool(params.get("exclude_seen", True)))


def _load_pyfunc(path: str) -> RecommendPyfunc:
    """MLflow's entry point (``loader_module`` in the ``MLmodel`` file)."""
    return RecommendPyfunc(RecommendModel.load(path))
