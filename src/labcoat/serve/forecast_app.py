"""The REST service of a forecast model: ``POST /forecast``, ``GET /health``, ``/ready``,
``/schema`` and the docs at ``/docs``.

A request names the series to forecast (rows of the series columns; default all), and may
give a shorter horizon, quantile levels, the known covariates of the steps ahead
(``future``) and newer actuals (``history``). It is answered with the same table
``model.forecast`` returns, as records, and logged in the prediction log like ``/predict``.
Bad requests get 422 naming the field, the value and the reason. Served from a registry alias
with ``follow_alias``, the alias's new version is swapped in when it moves (:mod:`labcoat.serve.follow`).

Examples
--------
>>> from fastapi.testclient import TestClient                          # doctest: +SKIP
>>> client = TestClient(create_forecast_app(ForecastService("demand-model")))  # doctest: +SKIP
>>> client.post("/forecast", json={"series": [{"store": "s1"}], "horizon": 7}).json()["forecasts"][0]  # doctest: +SKIP
{'store': 's1', 'date': '2024-06-01T00:00:00', 'forecast': 41.2, 'p10': 33.0, 'p50': 41.0, 'p90': 50.1}
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response

from labcoat.errors import LabcoatError
from labcoat.serve.app import JSONAnswer, _error, guard_and_probes, json_object
from labcoat.serve.docs import add_docs
from labcoat.serve.follow import TaskService
from labcoat.serve.predlog import PredictionLog
from labcoat.serve.service import MAX_BODY
from labcoat.tasks.forecast.model import ForecastModel

#: The fields a /forecast body may hold.
FIELDS = ("series", "horizon", "quantiles", "future", "history")


@dataclass(frozen=True)
class ServedForecaster:
    """One loaded forecast model, with its registry name and version ("local" for a folder)."""

    model: ForecastModel
    name: str
    version: str


class ForecastService(TaskService[ServedForecaster]):
    """The forecast model a service answers with; with ``follow_alias``, a registry alias's
    newest version, swapped in with one assignment when the alias moves."""

    kind, holds = "forecast", "a forecast model"

    def _served(self, model: Any, name: str, version: str) -> ServedForecaster:
        return ServedForecaster(model, name, version)


def create_forecast_app(service: ForecastService, *, token: str | None = None,
                        log_path: str | Path = "predictions.db", max_body: int = MAX_BODY) -> FastAPI:
    """The FastAPI application answering forecasts of ``service``'s model. The title, the
    description and the documented request are those of the model loaded first."""
    first = service.current
    app = FastAPI(title=f"labcoat: {first.name}", version=str(first.version), docs_url=None, redoc_url=None,
                  description=f"Forecasts '{first.model.target}' ({first.model.info.get('frequency')}, up to "
                              f"{first.model.horizon} steps, {first.model.panel.n_series} series).",
                  default_response_class=JSONAnswer)
    add_docs(app)
    log = PredictionLog(Path(log_path))

    guard_and_probes(app, service, token)

    @app.post("/forecast", openapi_extra=_openapi(first.model))
    async def forecast(request: Request) -> Response:
        """The next steps of the named series (default all), with quantiles."""
        started = time.perf_counter()
        payload, problem = await json_object(request, max_body, FIELDS)
        if problem is not None:
            return problem
        current = service.current  # the whole request answers with one version
        try:
            frame = current.model.forecast(
                horizon=payload.get("horizon"), quantiles=payload.get("quantiles", (0.1, 0.5, 0.9)),
                series=_records(payload, "series"), future=_records(payload, "future"),
                history=_records(payload, "history"))
        except (LabcoatError, ValueError, TypeError, KeyError) as error:
            return _error(422, str(error), "value_error")
        records = _json_records(frame)
        request_id = uuid.uuid4().hex
        log.record({"request_id": request_id, "endpoint": "/forecast", "model": current.name,
                    "version": current.version,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "inputs": [{k: payload[k] for k in payload if k != "history"}], "outputs": records})
        return JSONAnswer({"request_id": request_id, "model": {"name": current.name, "version": current.version},
                           "forecasts": records}, headers={"X-Request-Id": request_id})

    @app.get("/schema")
    async def schema() -> dict[str, Any]:
        model = service.current.model
        return {"task": "forecast", "target": model.target, "time_column": model.panel.time_column,
                "series": list(model.panel.series), "horizon": model.horizon, "frequency": model.panel.freq,
                "known": [c for c in model.panel.known if not c.startswith("holiday_")], "n_series": model.panel.n_series}

    app.state.log = log
    app.state.service = service
    return app


def _records(payload: dict[str, Any], key: str) -> pd.DataFrame | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{key} must be a list of objects (one per series or row)")
    return pd.DataFrame(value)


def _json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return [{str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in out.to_dict("records")]


def _openapi(model: ForecastModel) -> dict[str, Any]:
    series = {c: {"type": "string"} for c in model.panel.series}
    return {"requestBody": {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "properties": {
            "series": {"type": "array", "items": {"type": "object", "properties": series}},
            "horizon": {"type": "integer", "minimum": 1, "maximum": model.horizon},
            "quantiles": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}},
            "future": {"type": "array", "items": {"type": "object"}},
            "history": {"type": "array", "items": {"type": "object"}}}}}}}}
