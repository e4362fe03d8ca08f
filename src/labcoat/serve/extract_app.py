"""The REST service of an extraction model: ``POST /extract``, ``GET /health``, ``/ready``,
``/schema`` and the docs at ``/docs``.

A request gives texts (``"texts"``: a list of strings, or one ``"text"``); each is answered with
the entities ``model.extract`` finds in it in process: ``start`` and ``end`` (character
offsets, end excluded), ``label``, ``text`` and ``confidence``. A text that is not a string is
refused with 422 naming its place (``["body", "texts", 3]``); more texts than the service takes
in one request (``labcoat serve --max-batch``) or a body over its size limit are refused with
413. Every answered request is logged in the prediction log, one row per text (inputs
``{"text"}``, outputs ``{"entities"}``: what ``labcoat monitor --from-log`` and ``labcoat log
export`` read).

Examples
--------
>>> from fastapi.testclient import TestClient                                          # doctest: +SKIP
>>> client = TestClient(create_extract_app(ExtractService("news-entities")))           # doctest: +SKIP
>>> client.post("/extract", json={"text": "Anna flew to Paris."}).json()["entities"]   # doctest: +SKIP
[[{'start': 0, 'end': 4, 'label': 'PER', 'text': 'Anna', 'confidence': 0.97}, ...]]
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response

from labcoat.errors import LabcoatError
from labcoat.serve.app import JSONAnswer, _error, guard_and_probes, json_object
from labcoat.serve.docs import add_docs
from labcoat.serve.follow import TaskService
from labcoat.serve.predlog import PredictionLog
from labcoat.serve.service import MAX_BODY

if TYPE_CHECKING:
    from labcoat.tasks.extract.model import ExtractModel

#: The fields an /extract body may hold.
FIELDS = ("texts", "text")
#: The most texts one request may hold (``labcoat serve --max-batch``).
MAX_TEXTS = 10_000
#: Each entity's fields in an answer (the columns of ``model.extract`` but ``document``).
ENTITY_FIELDS = ("start", "end", "label", "text", "confidence")


@dataclass(frozen=True)
class ServedExtractor:
    """One loaded extraction model, with its registry name and version ("local" for a folder)."""

    model: ExtractModel
    name: str
    version: str


class ExtractService(TaskService[ServedExtractor]):
    """The extraction model a service answers with; with ``follow_alias``, a registry alias's
    newest version, swapped in with one assignment when the alias moves."""

    kind, holds = "extract", "an extraction model"

    def _served(self, model: Any, name: str, version: str) -> ServedExtractor:
        return ServedExtractor(model, name, version)


def entities_per_text(found: pd.DataFrame, texts: int) -> list[list[dict[str, Any]]]:
    """The rows of ``model.extract``'s frame grouped by document: one list of entities per text.

    >>> frame = pd.DataFrame({"document": [1], "start": [0], "end": [4], "label": ["PER"], "text": ["Anna"],
    ...                       "confidence": [0.9]})
    >>> entities_per_text(frame, 2)
    [[], [{'start': 0, 'end': 4, 'label': 'PER', 'text': 'Anna', 'confidence': 0.9}]]
    """
    out: list[list[dict[str, Any]]] = [[] for _ in range(texts)]
    columns = [found[c].tolist() for c in ("document", *ENTITY_FIELDS)]
    for document, *values in zip(*columns):
        out[int(document)].append(dict(zip(ENTITY_FIELDS, values)))
    return out


def create_extract_app(service: ExtractService, *, token: str | None = None,
                       log_path: str | Path = "predictions.db", max_body: int = MAX_BODY,
                       max_texts: int = MAX_TEXTS) -> FastAPI:
    """The FastAPI application answering ``POST /extract`` with ``service``'s model."""
    first = service.current
    app = FastAPI(title=f"labcoat: {first.name}", version=str(first.version), docs_url=None, redoc_url=None,
                  description=f"Finds entities ({', '.join(first.model.labels)}) in texts.",
                  default_response_class=JSONAnswer)
    add_docs(app)
    log = PredictionLog(Path(log_path))
    guard_and_probes(app, service, token)

    @app.post("/extract", openapi_extra=_openapi(max_texts))
    async def extract(request: Request) -> Response:
        """The entities found in each text."""
        started = time.perf_counter()
        payload, problem = await json_object(request, max_body, FIELDS)
        if problem is not None:
            return problem
        current = service.current  # the whole request answers with one version
        try:
            texts = _texts(payload, max_texts)
            found = entities_per_text(current.model.extract(texts), len(texts))
        except _Refused as error:  # loc ["body", "texts", 3]
            return JSONAnswer({"detail": error.details}, status_code=error.status)
        except (LabcoatError, ValueError, TypeError) as error:
            return _error(422, str(error), "value_error")
        request_id = uuid.uuid4().hex
        log.record({"request_id": request_id, "endpoint": "/extract", "model": current.name,
                    "version": current.version, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "inputs": [{"text": t} for t in texts], "outputs": [{"entities": e} for e in found]})
        return JSONAnswer({"request_id": request_id, "model": {"name": current.name, "version": current.version},
                           "entities": found}, headers={"X-Request-Id": request_id})

    @app.get("/schema")
    async def schema() -> dict[str, Any]:
        model = service.current.model
        return {"task": "extract", "labels": list(model.labels), "max_texts": max_texts,
                "entity_fields": list(ENTITY_FIELDS)}

    app.state.log = log
    app.state.service = service
    return app


class _Refused(ValueError):
    """A body refused (422, or 413 for more texts than one request may hold), each problem named
    by its place in the body: ``(loc, reason, kind, value)``."""

    def __init__(self, problems: list[tuple[list[Any], str, str, Any]], status: int = 422) -> None:
        super().__init__(problems[0][1])
        self.status = status
        self.details = [{"loc": ["body", *loc], "msg": f"{'.'.join(map(str, loc)) or 'body'}: {reason}", "type": kind,
                         "input": value} for loc, reason, kind, value in problems[:20]]


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _texts(payload: dict[str, Any], max_texts: int) -> list[str]:
    """The texts of an /extract body."""
    if ("texts" in payload) == ("text" in payload):
        raise _Refused([([], 'give either "texts" (a list of strings) or "text" (one string), not '
                         + ("both" if "texts" in payload else "neither"), "value_error", None)])
    if "text" in payload:
        if not isinstance(payload["text"], str):
            raise _Refused([(["text"], f"must be a string, not {_kind(payload['text'])}", "string_type",
                             payload["text"])])
        return [payload["text"]]
    texts = payload["texts"]
    if not isinstance(texts, list) or not texts:
        raise _Refused([(["texts"], "must be a non-empty list of strings, one per document",
                         "list_type" if not isinstance(texts, list) else "too_short", texts)])
    if len(texts) > max_texts:
        raise _Refused([(["texts"], f"{len(texts):,} texts are more than the {max_texts:,} one request may hold",
                         "too_large", None)], status=413)
    wrong = [(["texts", i], f"must be a string, not {_kind(t)}", "string_type", t)
             for i, t in enumerate(texts) if not isinstance(t, str)]
    if wrong:
        raise _Refused(wrong)
    return texts


def _openapi(max_texts: int) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "properties": {
            "texts": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": max_texts},
            "text": {"type": "string"}}}}}}}
