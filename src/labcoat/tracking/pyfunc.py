"""A labcoat model as an MLflow pyfunc model: ``mlflow.pyfunc.load_model(uri).predict(df)``
and ``mlflow models serve`` give exactly :meth:`labcoat.Model.predict_frame`'s table.

The files are written by :func:`labcoat.artifact.save`; this is the plugin MLflow runs to read
them back: every saved model's ``_pyfunc_entry.py`` imports :class:`LabcoatPyfunc` from here
(models saved by earlier versions too, so it stays at this name). Building a
:class:`~labcoat.model.Model` is the one import of ``labcoat.model`` from ``labcoat.tracking``,
allowed by name in ``[tool.importlinter]`` (pyproject.toml).
"""
from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc.model import PythonModel

from labcoat.artifact import ARTIFACT


class LabcoatPyfunc(PythonModel):
    """Loads labcoat's files from the model's artifacts and predicts through them."""

    def load_context(self, context: Any) -> None:
        from labcoat.model import Model  # the plugin entry point: see the module docstring

        self.model = Model.load(context.artifacts[ARTIFACT])

    # MLflow reads these hints (and warns on others): a DataFrame in, a DataFrame out.
    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.model.predict_frame(model_input)
