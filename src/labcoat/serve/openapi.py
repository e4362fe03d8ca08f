"""The service's OpenAPI documentation, built from the training schema, and the small bodies
(feedback, the ``/schema`` answer) that need no model.

Request bodies are read by hand (see :mod:`labcoat.serve.app`), so their JSON schemas are given
to FastAPI as ``openapi_extra``; every 4xx answer has the same documented shape as FastAPI's own
validation errors: ``{"detail": [{"loc", "msg", "type", "input"}]}``.

Examples
--------
>>> read_feedback({"request_id": "ab12", "labels": ["yes"]})
('ab12', [(0, 'yes')])
"""
from __future__ import annotations

from typing import Any

from labcoat.data.columns import Column, Role
from labcoat.data.schema import Schema
from labcoat.serve.validation import Problem, RequestInvalid

_ANY_SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}
_DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "array", "items": {
    "type": "object", "required": ["loc", "msg", "type"],
    "properties": {"loc": {"type": "array", "items": {"type": ["string", "integer"]}}, "msg": {"type": "string"},
                   "type": {"type": "string"}, "input": {}}}}}}
_ERROR = {"content": {"application/json": {"schema": _DETAIL}}}
#: Documented error answers of the prediction endpoints.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer token (with --token).", **_ERROR},
    413: {"description": "Body over 10 MiB, or more rows than --max-batch.", **_ERROR},
    422: {"description": "Invalid body or rows: the field, the value and the reason.", **_ERROR},
}
ERRORS_V2 = {**ERRORS, 404: {"description": "No model of that name here.", **_ERROR}}
PLAIN: dict[int | str, dict[str, Any]] = {401: ERRORS[401]}
PLAIN_V2 = {**PLAIN, 404: ERRORS_V2[404]}
METRICS = {200: {"description": "Prometheus text format.", "content": {"text/plain": {"schema": {"type": "string"}}}},
           **PLAIN}
FEEDBACK = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["request_id", "labels"],
    "properties": {"request_id": {"type": "string"},
                   "labels": {"type": "array", "minItems": 1, "items": _ANY_SCALAR,
                              "description": "True values, one per row of the request, in order"},
                   "rows": {"type": "array", "items": {"type": "integer", "minimum": 0},
                            "description": "Which rows the labels are for (default 0, 1, ...)"}}}}}}}


class Specs:
    """``openapi_extra`` of the prediction endpoints for one model's schema."""

    def __init__(self, schema: Schema) -> None:
        row = {"type": "object", "properties": {c.name: _value_schema(c) for c in schema.features},
               "required": [c.name for c in schema.features], "additionalProperties": True}
        columns = {"type": "object", "properties": {c.name: {"type": "array", "minItems": 1, "items": _value_schema(c)}
                                                    for c in schema.features},
                   "required": [c.name for c in schema.features], "additionalProperties": {"type": "array"}}
        rows = {"type": "array", "minItems": 1, "items": row}
        self.predict = _body({"type": "object", "minProperties": 1, "maxProperties": 1,
                              "properties": {"rows": rows, "columns": columns}})
        self.invocations = _body({"type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
            "dataframe_records": rows,
            "dataframe_split": {"type": "object", "required": ["columns", "data"], "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array", "items": _ANY_SCALAR}}}},
            "instances": rows, "inputs": rows}})
        self.v2_infer = _body({"type": "object", "required": ["inputs"], "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["name", "data"], "properties": {
                    "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
                    "datatype": {"type": "string"}, "data": {"type": "array", "items": _ANY_SCALAR}}}}}})


    @staticmethod
    def model_name(name: str) -> dict[str, Any]:
        """The ``{name}`` path parameter of the v2 endpoints, documented with the served name."""
        return {"parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": [name]}}]}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _value_schema(column: Column) -> dict[str, Any]:
    if column.role is Role.NUMERIC:
        return {"type": ["number", "null"]}
    if column.role is Role.BOOLEAN:
        return {"type": ["boolean", "null"]}
    if column.role is Role.DATETIME:
        return {"type": ["string", "null"], "format": "date-time"}
    if column.role is Role.CATEGORICAL:
        return {"type": ["string", "number", "boolean", "null"],
                "examples": [c for c in (column.categories or [])[:5]]}
    return {"type": ["string", "null"]}


def input_schema(schema: Schema) -> dict[str, Any]:
    """What ``GET /schema`` answers: the columns the model needs, their roles and types, the
    categories seen in training and the ranges of numbers."""
    return {"target": schema.target, "task": schema.task,
            "classes": schema.classes,
            "columns": [{"name": c.name, "role": c.role.value, "dtype": c.dtype,
                         "missing_in_training": c.missing_rate,
                         **({"categories": c.categories} if c.categories is not None else {}),
                         **({"minimum": c.minimum, "maximum": c.maximum} if c.minimum is not None else {})}
                        for c in schema.features]}


def read_feedback(body: Any) -> tuple[str, list[tuple[int, Any]]]:
    """``(request_id, [(row, label), ...])`` from a ``POST /feedback`` body."""
    if not isinstance(body, dict) or not isinstance(body.get("request_id"), str) \
            or not isinstance(body.get("labels"), list) or not body["labels"]:
        raise RequestInvalid([Problem("body", 'expected {"request_id": "...", "labels": [...]} with at least one '
                                      "label", kind="body_error")])
    labels = body["labels"]
    if any(isinstance(v, (dict, list)) for v in labels):
        raise RequestInvalid([Problem("labels", "labels must be single values", kind="type_error")])
    rows = body.get("rows", list(range(len(labels))))
    if not isinstance(rows, list) or len(rows) != len(labels) or \
            not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in rows):
        raise RequestInvalid([Problem("rows", "rows must be one non-negative row number per label",
                                      kind="value_error")])
    return body["request_id"], list(zip(rows, labels))
