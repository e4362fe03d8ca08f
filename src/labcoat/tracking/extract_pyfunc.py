"""An extraction model as an MLflow pyfunc model: ``mlflow.pyfunc.load_model(folder_or_uri)``
``.predict(frame)`` gives the entities found in the frame's ``text`` column
(:meth:`ExtractModel.extract`: one row per entity, with the ``document`` it is in: the row's
position).

Examples
--------
>>> import mlflow.pyfunc                                                               # doctest: +SKIP
>>> mlflow.pyfunc.load_model("models:/news-entities/1").predict(pd.DataFrame({"text": ["Anna flew to Paris."]}))  # doctest: +SKIP
   document  start  end label   text  confidence
0         0      0    4   PER   Anna        0.97
1         0     13   18   LOC  Paris        0.95
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from labcoat.errors import DataError
from labcoat.tasks.extract.model import ExtractModel


class ExtractPyfunc:
    """What MLflow's pyfunc loader returns for an extraction model."""

    def __init__(self, model: ExtractModel) -> None:
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """The entities in ``model_input``'s ``text`` column (or in a list or series of texts)."""
        if isinstance(model_input, pd.DataFrame):
            if "text" not in model_input.columns:
                raise DataError(f"Give the texts in a column named 'text'; the columns are "
                                f"{', '.join(map(str, model_input.columns))}.")
            model_input = model_input["text"]
        return self.model.extract(list(model_input))


def _load_pyfunc(path: str) -> ExtractPyfunc:
    """MLflow's entry point (``loader_module`` in the ``MLmodel`` file)."""
    return ExtractPyfunc(ExtractModel.load(path))
