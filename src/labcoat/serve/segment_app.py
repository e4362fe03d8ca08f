"""The REST service of a segment model: ``POST /segment``, ``GET /health``, ``/ready``,
``/schema`` and the docs at ``/docs``.

A request gives rows (``"rows"``: a list of objects, or one ``"row"``) with the columns the
model was fitted on; each is answered with its segment, the number ``model.predict`` gives in
process, and the segment's description. Rows are checked as ``/predict`` checks them
(:class:`~labcoat.serve.validation.Validator`): a missing column or a value of the wrong type
is refused with 422 naming the row, the column and the value; an unknown column, a category
not seen in training or a number outside the training range is answered and flagged in
``warnings``. Every request is logged in the prediction log.

Examples
--------
>>> from fastapi.testclient import TestClient                                      # doctest: +SKIP
>>> client = TestClient(create_segment_app(SegmentService("customer-segments")))    # doctest: +SKIP
>>> client.post("/segment", json={"row": {"age": 30, "region": "north"}}).json()["segments"]  # doctest: +SKIP
[2]
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response

from labcoat.errors import LabcoatError
from labcoat.serve.app import JSONAnswer, _error, guard_and_probes, json_object
from labcoat.serve.docs import add_docs
from labcoat.serve.follow import TaskService
from labcoat.serve.predlog import PredictionLog
from labcoat.serve.service import MAX_BODY
from labcoat.serve.validation import Problem, RequestInvalid, Validator
from labcoat.tasks.segment.model import SegmentModel

#: The fields a /segment body may hold.
FIELDS = ("rows", "row")
#: The most rows one request may hold (``labcoat serve --max-batch``).
MAX_ROWS = 10_000


@dataclass(frozen=True)
class ServedSegmenter:
    """One loaded segment model, with its registry name and version ("local" for a folder)."""

    model: SegmentModel
    name: str
    version: str


class SegmentService(TaskService[ServedSegmenter]):
    """The segment model a service answers with; with ``follow_alias``, a registry alias's
    newest version, swapped in with one assignment when the alias moves."""

    kind, holds = "segment", "a segment model"

    def _served(self, model: Any, name: str, version: str) -> ServedSegmenter:
        return ServedSegmenter(model, name, version)


def create_segment_app(service: SegmentService, *, token: str | None = None, log_path: str | Path = "predictions.db",
                       max_body: int = MAX_BODY, max_rows: int = MAX_ROWS) -> FastAPI:
    """The FastAPI application answering ``POST /segment`` with ``service``'s model."""
    first = service.current
    app = FastAPI(title=f"labcoat: {first.name}", version=str(first.version), docs_url=None, redoc_url=None,
                  description=f"Gives rows their segment among the {first.model.info.get('k')} segments found in "
                              f"{first.model.info.get('rows', 0):,} rows (columns: "
                              f"{', '.join(c.name for c in first.model.schema.features)}).",
                  default_response_class=JSONAnswer)
    add_docs(app)
    log = PredictionLog(Path(log_path))
    validators: dict[int, Validator] = {}
    guard_and_probes(app, service, token)

    @app.post("/segment", openapi_extra=_openapi(first.model))
    async def segment(request: Request) -> Response:
        """Each row's segment, with the segment's description."""
        started = time.perf_counter()
        payload, problem = await json_object(request, max_body, FIELDS)
        if problem is not None:
            return problem
        current = service.current  # the whole request answers with one version
        validator = validators.setdefault(id(current.model), Validator(current.model.schema))
        try:
            rows = _rows(payload, max_rows)
            checked = validator.check(pd.DataFrame(rows))
            found = current.model.predict(checked.frame).tolist()
        except _TooMany as error:
            return _error(413, str(error), "too_large")
        except RequestInvalid as error:  # loc ["body", "rows", 0, "age"]
            return JSONAnswer({"detail": [p.detail("rows") for p in error.problems]}, status_code=422)
        except (LabcoatError, ValueError, TypeError) as error:
            return _error(422, str(error), "value_error")
        described = current.model.segments["description"]
        request_id = uuid.uuid4().hex
        log.record({"request_id": request_id, "endpoint": "/segment", "model": current.name,
                    "version": current.version, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "inputs": rows, "outputs": found})
        return JSONAnswer({"request_id": request_id, "model": {"name": current.name, "version": current.version},
                           "segments": found, "descriptions": {str(s): described[s] for s in sorted(set(found))},
                           "warnings": [p.to_dict() for p in checked.warnings]},
                          headers={"X-Request-Id": request_id})

    @app.get("/schema")
    async def schema() -> dict[str, Any]:
        model = service.current.model
        return {"task": "segment", "columns": [{"name": c.name, "role": c.role.value} for c in model.schema.features],
                "k": model.info.get("k"), "segments": model.segments.to_dict("records")}

    app.state.log = log
    app.state.service = service
    return app


class _TooMany(ValueError):
    """More rows than the service takes in one request (413)."""


def _rows(payload: dict[str, Any], max_rows: int) -> list[dict[str, Any]]:
    """The rows of a /segment body: objects with text, number, true/false or null values."""
    if ("rows" in payload) == ("row" in payload):
        raise ValueError('give either "rows" (a list of objects) or "row" (one object), not '
                         + ("both" if "rows" in payload else "neither"))
    rows = payload["rows"] if "rows" in payload else [payload["row"]]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("rows must be a non-empty list of objects, one per row (column: value)")
    if len(rows) > max_rows:
        raise _TooMany(f"{len(rows):,} rows are more than the {max_rows:,} one request may hold")
    problems = [Problem(str(name), "must be text, a number, true/false or null", row=i, value=value, kind="type_error")
                for i, r in enumerate(rows) for name, value in r.items() if isinstance(value, (dict, list))]
    if problems:
        raise RequestInvalid(problems[:20])
    return rows


def _openapi(model: SegmentModel) -> dict[str, Any]:
    kinds = {"numeric": "number", "boolean": "boolean"}
    row = {"type": "object", "properties": {c.name: {"type": [kinds.get(c.role.value, "string"), "null"],
                                                     "description": c.role.value} for c in model.schema.features},
           "required": [c.name for c in model.schema.features]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "properties": {
            "rows": {"type": "array", "items": row, "minItems": 1}, "row": row}}}}}}
