"""Request bodies of the three protocols the service speaks, read into a DataFrame, and their
answers.

- labcoat's own ``POST /predict``: ``{"rows": [{col: value}, ...]}`` or ``{"columns": {col: [...]}}``;
- MLflow's scoring protocol ``POST /invocations``: ``dataframe_split``, ``dataframe_records``
  (and ``instances`` / ``inputs`` as records or columns), answered as ``mlflow models serve``
  answers a labcoat model: ``{"predictions": [record per row]}``;
- the Open Inference Protocol v2 (KServe) ``POST /v2/models/{name}/infer``: one named 1-D
  tensor per column in ``inputs``; one output tensor per prediction column.

A body of the wrong shape raises :class:`~labcoat.serve.validation.RequestInvalid` (HTTP 422).

Examples
--------
>>> frame, key = read_predict({"columns": {"x": [1, 2], "plan": ["a", "b"]}})
>>> frame.shape, key
((2, 2), 'columns')
>>> read_invocations({"dataframe_split": {"columns": ["x"], "data": [[1], [2]]}})[0]["x"].tolist()
[1, 2]
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.serve.validation import SMALL, Problem, RequestInvalid

if TYPE_CHECKING:
    from labcoat.data.schema import Schema

#: Open Inference Protocol data types by column role (BYTES for the others).
V2_TYPES = {"numeric": "FP64", "boolean": "BOOL"}


def _refuse(reason: str, field: str = "body") -> RequestInvalid:
    return RequestInvalid([Problem(field, reason, kind="body_error")])


def read_predict(body: Any) -> tuple[pd.DataFrame, str]:
    """``{"rows": [...]}`` or ``{"columns": {...}}`` as a frame, and which form it was."""
    if not isinstance(body, dict) or len(body.keys() & {"rows", "columns"}) != 1:
        raise _refuse('expected a JSON object with either "rows" (a list of objects) or "columns" '
                      "(an object of equal-length lists)")
    if "rows" in body:
        return records(body["rows"], "rows"), "rows"
    return columns(body["columns"], "columns"), "columns"


def read_invocations(body: Any) -> tuple[pd.DataFrame, str]:
    """MLflow's scoring formats as a frame, and which one it was."""
    forms = ("dataframe_split", "dataframe_records", "instances", "inputs")
    if not isinstance(body, dict) or len([k for k in forms if k in body]) != 1:
        raise _refuse(f"expected a JSON object with one of {', '.join(forms)} (MLflow's scoring protocol)")
    key = next(k for k in forms if k in body)
    value = body[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("columns"), list) \
                or not isinstance(value.get("data"), list):
            raise _refuse('dataframe_split needs "columns" (a list of names) and "data" (a list of rows)', key)
        names = value["columns"]
        if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise _refuse("dataframe_split columns must be distinct strings", key)
        if not all(isinstance(r, list) and len(r) == len(names) for r in value["data"]):
            raise _refuse(f"every row of dataframe_split data must be a list of {len(names)} values", key)
        return _frame(value["data"], names), key
    if isinstance(value, dict):
        return columns(value, key), key
    return records(value, key), key


def read_v2(body: Any) -> tuple[pd.DataFrame, str | None]:
    """An Open Inference Protocol v2 request (one 1-D tensor per column) as a frame, and its id."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise _refuse('expected {"inputs": [{"name", "shape", "datatype", "data"}, ...]}, one tensor per column',
                      "inputs")
    data: dict[str, list[Any]] = {}
    for tensor in body["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str) \
                or not isinstance(tensor.get("data"), list):
            raise _refuse("each input needs a name (the column) and data (a list)", "inputs")
        shape = tensor.get("shape")
        if shape is not None and (not isinstance(shape, list) or not all(isinstance(s, int) for s in shape)
                                  or int(np.prod(shape)) != len(tensor["data"])):
            raise _refuse(f"input '{tensor['name']}': shape {shape} does not match its {len(tensor['data'])} values",
                          tensor["name"])
        if tensor["name"] in data:
            raise _refuse(f"input '{tensor['name']}' is given twice", tensor["name"])
        data[tensor["name"]] = tensor["data"]
    request_id = body.get("id")
    return columns(data, "inputs"), request_id if isinstance(request_id, str) else None


def records(rows: Any, field: str) -> pd.DataFrame:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise _refuse(f'"{field}" must be a list of objects (one per row)', field)
    if not rows:
        raise _refuse(f'"{field}" is empty: send at least one row', field)
    if len(rows) > SMALL:
        return pd.DataFrame.from_records(rows)
    names = list(dict.fromkeys(name for row in rows for name in row))
    return _frame([[row.get(name) for name in names] for row in rows], names)


def columns(value: Any, field: str) -> pd.DataFrame:
    if not isinstance(value, dict) or not value or not all(isinstance(v, list) for v in value.values()):
        raise _refuse(f'"{field}" must be an object of column name → list of values', field)
    lengths = {len(v) for v in value.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise _refuse(f'the lists in "{field}" must all have the same, non-zero length', field)
    return _frame(value)


def _frame(data: Any, names: list[str] | None = None) -> pd.DataFrame:
    """The request's rows as a frame. A few rows keep the JSON values as they are (object
    columns): inferring column types costs more than it saves there (one row of 11 columns:
    ~0.2 ms to build, ~0.06 ms each time the values are read back, against ~0.08 and ~0.001),
    and the validator and ``Schema.prepare`` convert per column anyway."""
    rows = len(data) if names is not None else len(next(iter(data.values())))
    if rows > SMALL:
        return pd.DataFrame(data, columns=names)
    if names is None:
        names, data = list(data), list(zip(*data.values()))
    return pd.DataFrame(data, columns=pd.Index(names, dtype=object), dtype=object)


def v2_outputs(table: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """``predict_frame``'s columns (as lists) as Open Inference Protocol output tensors."""
    out = []
    for name, values in table.items():
        kind = ("BOOL" if all(isinstance(v, bool) for v in values) else
                "INT64" if all(isinstance(v, int) and not isinstance(v, bool) for v in values) else
                "FP64" if all(isinstance(v, float) for v in values) else "BYTES")
        out.append({"name": name, "shape": [len(values)], "datatype": kind,
                    "data": [str(v) for v in values] if kind == "BYTES" else values})
    return out


def v2_inputs(schema: Schema) -> list[dict[str, Any]]:
    """The model's inputs as Open Inference Protocol tensor metadata."""
    return [{"name": c.name, "datatype": V2_TYPES.get(c.role.value, "BYTES"), "shape": [-1]} for c in schema.features]
