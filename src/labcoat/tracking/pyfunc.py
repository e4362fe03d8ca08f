"""A labcoat model as an MLflow pyfunc model: ``mlflow.pyfunc.load_model(uri).predict(df)``
and ``mlflow models serve`` give exactly :meth:`labcoat.Model.predict_frame`'s table."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.pyfunc
import pandas as pd

from labcoat import __version__
from labcoat.errors import ModelFileError
from labcoat.tracking.store import quiet_mlflow

if TYPE_CHECKING:
    from labcoat.model import Model

#: Name of the artifact (and folder under ``artifacts/``) holding labcoat's own files.
ARTIFACT = "labcoat"


class LabcoatPyfunc(mlflow.pyfunc.PythonModel):
    """Loads labcoat's files from the model's artifacts and predicts through them."""

    def load_context(self, context: Any) -> None:
        from labcoat.model import Model

        self.model = Model.load(context.artifacts[ARTIFACT])

    # MLflow reads these hints (and warns on others): a DataFrame in, a DataFrame out.
    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.model.predict_frame(model_input)


def save_pyfunc(model: "Model", path: Path) -> Path:
    """Write ``model`` to ``path`` as an MLflow pyfunc model, replacing a model already there."""
    from mlflow.models import infer_signature

    _check_target(path)
    with tempfile.TemporaryDirectory(prefix="labcoat-save-") as scratch:
        native = model.save_native(Path(scratch) / ARTIFACT)
        staged = Path(scratch) / "model"
        # Integer columns stay integers in the signature: MLflow refuses int64 input for a
        # double column ("cannot safely convert"), which is the common case; rows with a missing
        # value in such a column go through labcoat.load instead, which accepts them.
        example = model.example
        with quiet_mlflow():
            signature = None if example is None else infer_signature(example, model.predict_frame(example))
            mlflow.pyfunc.save_model(
                # "Models from code": the model is this file plus artifacts, nothing pickled.
                str(staged), python_model=str(Path(__file__).with_name("_pyfunc_entry.py")),
                artifacts={ARTIFACT: str(native)}, signature=signature, input_example=example,
                # Explicit, so MLflow does not spend seconds inferring them from imports.
                pip_requirements=[f"labcoat=={__version__}"])
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), str(path))
    return path


def _check_target(path: Path) -> None:
    if not path.exists():
        return
    if not path.is_dir():
        raise ModelFileError(f"'{path}' exists and is a file; give a directory for the model.")
    if any(path.iterdir()) and not ((path / "MLmodel").is_file() or (path / "labcoat.json").is_file()):
        raise ModelFileError(f"'{path}' exists and holds files that are not a labcoat model; "
                             "choose another directory so nothing in it is lost.")
