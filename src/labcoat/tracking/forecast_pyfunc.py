"""A forecast model as an MLflow pyfunc model: ``mlflow.pyfunc.load_model(folder_or_uri)``
``.predict(series, params={"horizon": 7})`` gives :meth:`ForecastModel.forecast`'s table.

``ForecastModel.save`` writes an ``MLmodel`` beside labcoat's own files naming this module as
the pyfunc loader, so a saved folder, a run's ``model/`` and a registered version all load in
MLflow (and ``mlflow models serve``) without labcoat's API.

Examples
--------
>>> import mlflow.pyfunc                                                  # doctest: +SKIP
>>> mlflow.pyfunc.load_model("demand-model").predict(
...     pd.DataFrame([{"store": "store_1", "item": "item_01"}]), params={"horizon": 7})  # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from labcoat.tasks.forecast.model import ForecastModel


class ForecastPyfunc:
    """What MLflow's pyfunc loader returns for a forecast model."""

    def __init__(self, model: ForecastModel) -> None:
        self.model = model

    def predict(self, model_input: pd.DataFrame | None, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """The forecasts of the series named by ``model_input``'s rows (its series columns; no
        rows or no such columns: every series); ``params`` may hold ``horizon`` and ``quantiles``."""
        params = params or {}
        columns = list(self.model.panel.series)
        named = model_input is not None and len(model_input) > 0 and set(columns) <= set(model_input.columns)
        horizon = params.get("horizon")
        return self.model.forecast(horizon=None if horizon is None else int(horizon),
                                   quantiles=tuple(params.get("quantiles") or (0.1, 0.5, 0.9)),
                                   series=model_input[columns] if named and model_input is not None else None)


def _load_pyfunc(path: str) -> ForecastPyfunc:
    """MLflow's entry point (``loader_module`` in the ``MLmodel`` file)."""
    return ForecastPyfunc(ForecastModel.load(path))
