"""The REST service of an anomaly model: ``POST /predict``, ``GET /health``, ``/ready``,
``/schema`` and the docs at ``/docs``.

A request gives rows as the tabular service takes them (``{"rows": [{column: value}, ...]}``
or ``{"columns": {column: [...]}}``); each row is answered with its anomaly score (0 to 1,
higher is more unusual), whether it is flagged at the model's threshold and, for a flagged
row, the columns that make it unusual: what ``model.predict`` gives in process. Rows are
checked against the training schema as ``/predict`` checks them: a missing column or a value
of the wrong type is refused with 422 naming the row and the column; unknown columns, unseen
categories and values outside the training range are answered and flagged in ``warnings``.
Every answered request is logged in the prediction log.

Examples
--------
>>> from fastapi.testclient import TestClient                                        # doctest: +SKIP
>>> client = TestClient(create_anomaly_app(AnomalyService("fraud-model")))           # doctest: +SKIP
>>> client.post("/predict", json={"rows": [row]}).json()["predictions"][0]           # doctest: +SKIP
{'anomaly_score': 0.998, 'is_anomaly': True, 'reasons': 'amount 4,900 (usual: 12 to 310); new country'}
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response

from labcoat.errors import LabcoatError
from labcoat.serve import openapi
from labcoat.serve.app import JSONAnswer, _error, guard_and_probes, json_object
from labcoat.serve.docs import add_docs
from labcoat.serve.follow import TaskService
from labcoat.serve.predlog import PredictionLog
from labcoat.serve.protocols import read_predict
from labcoat.serve.service import MAX_BATCH, MAX_BODY
from labcoat.serve.validation import RequestInvalid, Validator
from labcoat.tasks.anomaly.model import AnomalyModel

#: The fields a /predict body may hold.
FIELDS = ("rows", "columns")


@dataclass(frozen=True)
class ServedDetector:
    """One loaded anomaly model, with its registry name and version ("local" for a folder), and
    the validator of its input rows."""

    model: AnomalyModel
    name: str
    version: str
    validator: Validator = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "validator", Validator(self.model.schema))


class AnomalyService(TaskService[ServedDetector]):
    """The anomaly model a service answers with; with ``follow_alias``, a registry alias's
    newest version, swapped in with one assignment when the alias moves."""

    kind, holds = "anomaly", "an anomaly model"

    def _served(self, model: Any, name: str, version: str) -> ServedDetector:
        return ServedDetector(model, name, version)


def create_anomaly_app(service: AnomalyService, *, token: str | None = None, log_path: str | Path = "predictions.db",
                       max_body: int = MAX_BODY, max_rows: int = MAX_BATCH) -> FastAPI:
    """The FastAPI application answering ``POST /predict`` with ``service``'s model. The title,
    the description and the documented request are those of the model loaded first."""
    from threadpoolctl import threadpool_limits

    # One thread per worker process (run more workers for more throughput): on a request's few
    # rows, BLAS and OpenMP threads cost more than they save (k-nearest neighbours: ~5 ms a
    # row with threads on 2 busy cores, ~0.35 ms without).
    threadpool_limits(1)
    first = service.current
    app = FastAPI(title=f"labcoat: {first.name}", version=str(first.version), docs_url=None, redoc_url=None,
                  description=f"Scores rows for how unusual they are (columns: "
                              f"{', '.join(first.validator.names)}); a row is flagged at score >= "
                              f"{first.model.threshold:.4g}, with the columns that make it unusual.",
                  default_response_class=JSONAnswer)
    add_docs(app)
    log = PredictionLog(Path(log_path))
    specs = openapi.Specs(first.model.schema)
    guard_and_probes(app, service, token)

    @app.post("/predict", openapi_extra=specs.predict, responses=openapi.ERRORS)
    async def predict(request: Request) -> Response:
        """Each row's anomaly score, flag and reasons, the model's name, version and threshold,
        the request id and what validation flagged."""
        started = time.perf_counter()
        payload, problem = await json_object(request, max_body, FIELDS)
        if problem is not None:
            return problem
        current = service.current  # the whole request answers with one version
        try:
            frame, _ = read_predict(payload)
            if len(frame) > max_rows:
                return _error(413, f"{len(frame):,} rows is over the limit of {max_rows:,} per request "
                                   "(--max-batch); split the request", "too_large")
            checked = current.validator.check(frame)
            predicted = current.model.predict(checked.frame)
        except RequestInvalid as error:
            return JSONAnswer({"detail": [p.detail() for p in error.problems]}, status_code=422)
        except (LabcoatError, ValueError, TypeError, KeyError) as error:
            return _error(422, str(error), "value_error")
        outputs = _outputs(predicted)
        request_id = uuid.uuid4().hex
        warnings = [w.to_dict() for w in checked.warnings]
        log.record({"request_id": request_id, "endpoint": "/predict", "model": current.name,
                    "version": current.version, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "inputs": _inputs(checked.frame), "outputs": outputs, "warnings": warnings})
        return JSONAnswer({"request_id": request_id, "model": {"name": current.name, "version": current.version},
                           "threshold": current.model.threshold, "predictions": outputs, "warnings": warnings},
                          headers={"X-Request-Id": request_id})

    @app.get("/schema")
    async def schema() -> dict[str, Any]:
        """The input columns from training (types, categories, ranges) and the threshold."""
        model = service.current.model
        return {**openapi.input_schema(model.schema), "task": "anomaly", "target": None,
                "labels_column": model.info.get("labels_column"), "threshold": model.threshold,
                "outputs": {"anomaly_score": "0 to 1, higher is more unusual",
                            "is_anomaly": "whether the score reaches the threshold",
                            "reasons": "the columns that make a flagged row unusual (empty otherwise)"}}

    app.state.log = log
    app.state.service = service
    return app


def _outputs(predicted: Any) -> list[dict[str, Any]]:
    """``model.predict``'s table as one object per row (plain floats, booleans and text)."""
    scores = predicted["anomaly_score"].to_numpy(dtype=float).tolist()
    flags = predicted["is_anomaly"].to_numpy(dtype=bool).tolist()
    reasons = ["" if r is None or r != r else str(r) for r in predicted["reasons"].tolist()]
    return [{"anomaly_score": s, "is_anomaly": f, "reasons": r} for s, f, r in zip(scores, flags, reasons)]


def _inputs(frame: Any) -> list[dict[str, Any]]:
    names = [str(c) for c in frame.columns]
    values = frame.to_numpy(dtype=object)
    return [dict(zip(names, (None if isinstance(v, float) and np.isnan(v) else v for v in row))) for row in values]
