"""The ``MLmodel`` file that makes a saved model of a task with a pipeline of its own an MLflow
pyfunc model: a loader module (named, not imported: it lives in the tracking layer above) and
a signature of optional input columns and parameters.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_mlmodel(folder, "labcoat.tracking.recommend_pyfunc", inputs=[("user_id", "string")],
...               params=[("k", "long", 10)])
>>> "loader_module: labcoat.tracking.recommend_pyfunc" in (folder / "MLmodel").read_text()
True
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd


def write_mlmodel(folder: Path, loader_module: str, *, inputs: Sequence[tuple[str, str]],
                  params: Sequence[tuple[str, str, Any] | tuple[str, str, Any, tuple[int, ...]]]) -> None:
    """Write ``folder/MLmodel``: ``inputs`` are (column, MLflow type), all optional; ``params``
    (name, MLflow type, default[, shape])."""
    import mlflow.pyfunc
    from mlflow.models import Model as MLflowModel
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    described = MLflowModel()
    mlflow.pyfunc.add_to_model(described, loader_module=loader_module)
    described.signature = ModelSignature(
        inputs=Schema([ColSpec(kind, name, required=False) for name, kind in inputs]),
        params=ParamSchema([ParamSpec(p[0], p[1], p[2], shape=p[3] if len(p) > 3 else None)
                            for p in params]))
    described.save(str(folder / "MLmodel"))


def mlflow_type(values: Any) -> str:
    """The MLflow schema type of a column of ids.

    >>> mlflow_type(pd.Series([1, 2])), mlflow_type(pd.Series(["a"]))
    ('long', 'string')
    """
    values = pd.Series(values)
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_integer_dtype(values):
        return "long"
    return "double" if pd.api.types.is_float_dtype(values) else "string"
