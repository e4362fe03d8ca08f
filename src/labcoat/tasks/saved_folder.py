"""What the saved folders of the tasks with a pipeline of their own share: loading one
(``labcoat.json`` checked: its kind, its format version; then ``model.joblib``), and the
``MLmodel`` file that makes it an MLflow pyfunc model (a loader module, named, not imported:
it lives in the tracking layer above; a signature of optional input columns and parameters).

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

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import joblib
import pandas as pd

from labcoat import __version__
from labcoat.errors import ModelFileError

Saved = TypeVar("Saved")


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


def load_saved(folder: str | Path, cls: type[Saved], *, kind: str, format_version: int, what: str) -> Saved:
    """The ``cls`` instance saved in ``folder`` by a model of ``kind`` (``what`` names it in
    the errors): a :class:`ModelFileError` saying what is wrong otherwise."""
    folder = Path(folder)
    meta_file = folder / "labcoat.json"
    if not meta_file.is_file():
        raise ModelFileError(f"'{folder}' is not a saved labcoat model (no labcoat.json).")
    meta = json.loads(meta_file.read_text())
    if meta.get("kind") != kind:
        raise ModelFileError(f"'{folder}' holds a {meta.get('task', 'tabular')} model, not {what}.")
    if int(meta.get("format_version", 0)) > format_version:
        raise ModelFileError(f"'{folder}' was saved by labcoat {meta.get('labcoat_version')}, whose format is newer "
                             f"than this labcoat's ({__version__}); upgrade labcoat to load it.")
    if not (folder / "model.joblib").is_file():
        raise ModelFileError(f"'{folder}' has no model.joblib; the folder is incomplete. Save the model again.")
    model = joblib.load(folder / "model.joblib")
    if not isinstance(model, cls):
        raise ModelFileError(f"'{folder / 'model.joblib'}' does not hold {what}.")
    return model
