"""A segment model as an MLflow pyfunc model: ``mlflow.pyfunc.load_model(folder_or_uri)``
``.predict(rows)`` gives each row's segment (:meth:`SegmentModel.predict_frame`: one column,
``segment``).

Examples
--------
>>> import mlflow.pyfunc                                                       # doctest: +SKIP
>>> mlflow.pyfunc.load_model("customer-segments").predict(customers)          # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from labcoat.tasks.segment.model import SegmentModel


class SegmentPyfunc:
    """What MLflow's pyfunc loader returns for a segment model."""

    def __init__(self, model: SegmentModel) -> None:
        self.model = model

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """The segment of each row of ``model_input``."""
        return self.model.predict_frame(model_input)


def _load_pyfunc(path: str) -> SegmentPyfunc:
    """MLflow's entry point (``loader_module`` in the ``MLmodel`` file)."""
    return SegmentPyfunc(SegmentModel.load(path))
