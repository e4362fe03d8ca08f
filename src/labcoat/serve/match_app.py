"""The REST service of a match model: ``POST /match``, ``GET /health``, ``/ready``, ``/schema``
and the docs at ``/docs``.

A request gives new records (``"records"``: a list of objects, or one ``"record"``) with any
of the model's fields (a field left out is missing, as null) and may give ``k``, the number of
candidates (default 5). Each record is answered with its ``k`` most probable fitted records:
the same table ``model.find`` gives in process (same ids, same weights), and whether the best
of them reaches the model's threshold (``match``). A field the model does not know is refused
with 422 naming it. Every request is logged in the prediction log like ``/predict``.

Examples
--------
>>> from fastapi.testclient import TestClient                                     # doctest: +SKIP
>>> client = TestClient(create_match_app(MatchService("people-match")))           # doctest: +SKIP
>>> client.post("/match", json={"record": {"surname": "smith", "given_name": "ann"}, "k": 1}).json()["matches"][0]  # doctest: +SKIP
{'query': 'new-0', 'match': True, 'candidates': [{'rank': 1, 'id': 'p17', 'match_probability': 0.998, 'match_weight': 8.97}]}
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
from labcoat.serve.follow import FOLLOW_SECONDS, TaskService
from labcoat.serve.predlog import PredictionLog
from labcoat.serve.service import MAX_BODY
from labcoat.serve.validation import Problem, RequestInvalid
from labcoat.tasks.match.model import MatchModel

#: The fields a /match body may hold.
FIELDS = ("records", "record", "k")
#: The most candidates one record may ask for.
MAX_K = 100
#: The most records one request may hold (``labcoat serve --max-batch``).
MAX_RECORDS = 10_000


@dataclass(frozen=True)
class ServedMatcher:
    """One loaded match model, with its registry name and version ("local" for a folder)."""

    model: MatchModel
    name: str
    version: str


class MatchService(TaskService[ServedMatcher]):
    """The match model a service answers with; with ``follow_alias``, a registry alias's newest
    version, swapped in with one assignment when the alias moves. A model is made ready to
    score (its indexes and database built) before it answers."""

    kind, holds = "match", "a match model"

    def __init__(self, reference: str, *, tracking_uri: str | None = None, follow_alias: bool = False,
                 follow_seconds: float = FOLLOW_SECONDS, loaded: ServedMatcher | None = None) -> None:
        if loaded is not None:
            _warm(loaded.model)
        super().__init__(reference, tracking_uri=tracking_uri, follow_alias=follow_alias,
                         follow_seconds=follow_seconds, loaded=loaded)

    def _served(self, model: Any, name: str, version: str) -> ServedMatcher:
        served = ServedMatcher(model, name, version)
        _warm(served.model)
        return served


def _warm(model: MatchModel) -> None:
    """Build the model's scorer now rather than on the first request (~0.5 s)."""
    from labcoat.tasks.match.find import scorer

    scorer(model)


def create_match_app(service: MatchService, *, token: str | None = None, log_path: str | Path = "predictions.db",
                     max_body: int = MAX_BODY, max_records: int = MAX_RECORDS) -> FastAPI:
    """The FastAPI application answering ``POST /match`` with ``service``'s model. The title,
    the description and the documented request are those of the model loaded first."""
    first = service.current
    app = FastAPI(title=f"labcoat: {first.name}", version=str(first.version), docs_url=None, redoc_url=None,
                  description=f"Finds, for new records, the most probable of the {len(first.model.records):,} records "
                              f"the model was fitted on (fields: {', '.join(_fields(first.model))}; a match at "
                              f"probability >= {first.model.threshold:.3f}).",
                  default_response_class=JSONAnswer)
    add_docs(app)
    log = PredictionLog(Path(log_path))

    guard_and_probes(app, service, token)

    @app.post("/match", openapi_extra=_openapi(first.model))
    async def match(request: Request) -> Response:
        """Each record's ``k`` most probable fitted records and whether the best is a match."""
        started = time.perf_counter()
        payload, problem = await json_object(request, max_body, FIELDS)
        if problem is not None:
            return problem
        current = service.current  # the whole request answers with one version
        try:
            records, k = _request(payload, current.model, max_records)
        except _TooMany as error:
            return _error(413, str(error), "too_large")
        except RequestInvalid as error:  # naming each record and field: loc ["body", "records", 0, "colour"]
            return JSONAnswer({"detail": [p.detail("records") for p in error.problems]}, status_code=422)
        except ValueError as error:
            return _error(422, str(error), "value_error")
        columns = _columns(current.model, records)
        table = pd.DataFrame([[r.get(c) for c in columns] for r in records], columns=columns, dtype=object)
        try:
            found = current.model.find(table, k=k)
        except (LabcoatError, ValueError, TypeError, KeyError) as error:
            return _error(422, str(error), "value_error")
        matches = _answers(found, records, current.model)
        request_id = uuid.uuid4().hex
        log.record({"request_id": request_id, "endpoint": "/match", "model": current.name,
                    "version": current.version, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "inputs": [{**r, "k": k} for r in records], "outputs": matches})
        return JSONAnswer({"request_id": request_id, "model": {"name": current.name, "version": current.version},
                           "threshold": current.model.threshold, "matches": matches},
                          headers={"X-Request-Id": request_id})

    @app.get("/schema")
    async def schema() -> dict[str, Any]:
        model = service.current.model
        return {"task": "match", "fields": [{"name": r.column, "role": r.role} for r in model.roles],
                "id_column": model.info.get("id_column"), "records": len(model.records),
                "threshold": model.threshold, "blocking": [list(r.columns) for r in model.rules],
                "k": {"default": 5, "max": MAX_K}, "link": model.link}

    app.state.log = log
    app.state.service = service
    return app


class _TooMany(ValueError):
    """More records than the service takes in one request (413)."""


def _fields(model: MatchModel) -> list[str]:
    return [r.column for r in model.roles]


def _request(payload: dict[str, Any], model: MatchModel, max_records: int) -> tuple[list[dict[str, Any]], int]:
    """The records and ``k`` of a /match body, checked: objects of the model's fields (and its
    id column) with text, number, true/false or null values (else :class:`RequestInvalid`
    naming each record and field)."""
    if ("records" in payload) == ("record" in payload):
        raise ValueError('give either "records" (a list of objects) or "record" (one object), not '
                         + ("both" if "records" in payload else "neither"))
    records = payload["records"] if "records" in payload else [payload["record"]]
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise ValueError("records must be a non-empty list of objects, one per record (field: value)")
    if len(records) > max_records:
        raise _TooMany(f"{len(records):,} records are more than the {max_records:,} one request may hold")
    k = payload.get("k", 5)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be a whole number from 1 to {MAX_K}; got {k!r}")
    known = [*_fields(model), *([str(model.info["id_column"])] if model.info.get("id_column") else [])]
    problems = []
    for i, record in enumerate(records):
        for name, value in record.items():
            if name not in known:
                problems.append(Problem(name, f"the model has no field {name!r}; its fields are {', '.join(known)}",
                                        row=i, value=value, kind="extra_forbidden"))
            elif isinstance(value, (dict, list)):
                problems.append(Problem(name, "must be text, a number, true/false or null", row=i, value=value,
                                        kind="type_error"))
    if problems:
        raise RequestInvalid(problems[:20])
    id_column = model.info.get("id_column")
    if id_column:
        given = [id_column in r and r[id_column] is not None for r in records]
        if any(given) and not all(given):
            raise ValueError(f"give every record its id ({id_column}) or none (they are numbered new-0, new-1, ...)")
    return records, k


def _columns(model: MatchModel, records: list[dict[str, Any]]) -> list[str]:
    """The columns of the new records' table: the id column when given, then every field (a
    field no record gives is missing throughout). The table holds the values as given (object
    columns): pandas would read 12 and null as 12.0 and NaN, and 12.0 is not "12"."""
    id_column = model.info.get("id_column")
    with_id = [str(id_column)] if id_column and id_column in records[0] else []
    return with_id + _fields(model)


def _answers(found: pd.DataFrame, records: list[dict[str, Any]], model: MatchModel) -> list[dict[str, Any]]:
    """Per record, in the order given: its id, its candidates and whether the best is a match."""
    id_column = model.info.get("id_column")
    ids = [str(r[id_column]) if id_column and id_column in r else f"new-{i}" for i, r in enumerate(records)]
    by_query: dict[str, list[dict[str, Any]]] = {}
    for query, rank, candidate, probability, weight in zip(found["query"].tolist(), found["rank"].tolist(),
                                                           found["id"].tolist(), found["match_probability"].tolist(),
                                                           found["match_weight"].tolist()):
        by_query.setdefault(query, []).append({"rank": int(rank), "id": candidate,
                                               "match_probability": float(probability),
                                               "match_weight": float(weight)})
    out = []
    for query in ids:
        candidates = by_query.get(query, [])
        best = candidates[0]["match_probability"] if candidates else 0.0
        out.append({"query": query, "match": bool(candidates) and best >= model.threshold,
                    "candidates": candidates})
    return out


def _openapi(model: MatchModel) -> dict[str, Any]:
    scalar = {"type": ["string", "number", "boolean", "null"]}
    id_column = model.info.get("id_column")
    fields = {f: {**scalar, "description": r.role} for f, r in ((r.column, r) for r in model.roles)}
    if id_column:
        fields[str(id_column)] = {"type": ["string", "number"], "description": "the record's id (optional)"}
    record = {"type": "object", "additionalProperties": False, "properties": fields}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "properties": {
            "records": {"type": "array", "items": record, "minItems": 1},
            "record": record,
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 5}}}}}}}
