"""The model folder format: labcoat's own files and the MLflow pyfunc model written around them.

A saved model is an MLflow pyfunc model ("models from code": ``MLmodel``, the entry file
``_pyfunc_entry.py``, the signature and input example) whose ``artifacts/labcoat/`` folder
holds labcoat's own files:

- ``labcoat.json``: :data:`FORMAT_VERSION`, the labcoat version, ``Model.info`` and the members;
- ``schema.json``: the training :class:`~labcoat.data.schema.Schema`;
- ``leaderboard.csv``; ``example.json`` (a few training rows; optional);
- ``explanations.json``, ``reference.json`` (optional);
- ``model.joblib``: preprocessors, estimators, out-of-fold predictions, calibrator, threshold.

This module knows the files, not the classes built from them: :func:`write_native` and
:func:`save` take a model object (anything with :class:`labcoat.Model`'s attributes) and
:func:`read_native` returns the parts (:class:`NativeFiles`) that :meth:`labcoat.Model.load`
assembles. So both ``labcoat.model`` and ``labcoat.tracking`` (the digest of a registered
model, the run's model) use it, and it imports neither: it sits below them in the layers
(see ``[tool.importlinter]`` in pyproject.toml). MLflow and joblib are imported only when a
model is written or read.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> native_dir(folder) == folder  # a folder of labcoat's own files (no MLmodel) is its own
True
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from labcoat import __version__
from labcoat.data.schema import Schema
from labcoat.errors import ModelFileError

if TYPE_CHECKING:
    from labcoat.model import Model

#: Bumped when the saved layout changes in a way older versions cannot read.
FORMAT_VERSION = 1
#: The files every saved model has (the others are optional).
FILES = ("labcoat.json", "schema.json", "leaderboard.csv", "model.joblib")
#: Name of the MLflow artifact (and folder under ``artifacts/``) holding labcoat's own files.
ARTIFACT = "labcoat"
#: The "models from code" entry file MLflow copies into every saved model and runs to load it
#: (it imports :class:`labcoat.tracking.pyfunc.LabcoatPyfunc`, which builds the Model).
ENTRY = Path(__file__).parent / "tracking" / "_pyfunc_entry.py"


class quiet_mlflow:
    """Silence MLflow's info logging, warnings and progress bars inside labcoat's own calls."""

    def __enter__(self) -> None:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self._logger = logging.getLogger("mlflow")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: Any) -> None:
        self._warnings.__exit__(*exc)
        self._logger.setLevel(self._level)


class _without_requirement_check:
    """MLflow's check, in ``save_model``, that this environment satisfies the model's pip
    requirements, skipped: to warn of a mismatch it maps every installed distribution to its
    modules (``importlib_metadata.packages_distributions``: 1.1 s in this project's venv, once per
    process, so in every ``labcoat fit`` run's budget), and the requirements it would check are
    labcoat and MLflow at the versions running here, whose warning :class:`quiet_mlflow`
    silences anyway. Where MLflow has no such check, nothing changes."""

    def __enter__(self) -> None:
        from mlflow.utils import environment

        self._check = getattr(environment, "warn_dependency_requirement_mismatches", None)
        if self._check is not None:
            environment.warn_dependency_requirement_mismatches = lambda model_requirements: None

    def __exit__(self, *exc: Any) -> None:
        from mlflow.utils import environment

        if self._check is not None:
            environment.warn_dependency_requirement_mismatches = self._check


# ---------------------------------------------------------------------- MLflow wrapper
def save(model: "Model", path: Path) -> Path:
    """Write ``model`` to ``path`` as an MLflow pyfunc model, replacing a model already there."""
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    check_target(path)
    with tempfile.TemporaryDirectory(prefix="labcoat-save-") as scratch:
        native = write_native(model, Path(scratch) / ARTIFACT)
        staged = Path(scratch) / "model"
        # Integer columns stay integers in the signature: MLflow refuses int64 input for a
        # double column ("cannot safely convert"), which is the common case; rows with a missing
        # value in such a column go through labcoat.load instead, which accepts them.
        example = model.example
        with quiet_mlflow(), _without_requirement_check():
            signature = None if example is None else infer_signature(example, model.predict_frame(example))
            mlflow.pyfunc.save_model(
                # "Models from code": the model is this file plus artifacts, nothing pickled.
                str(staged), python_model=str(ENTRY),
                artifacts={ARTIFACT: str(native)}, signature=signature, input_example=example,
                # Explicit, so MLflow does not spend seconds inferring them from imports.
                pip_requirements=[requirement(m.family for m in model.members)])
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), str(path))
    return path


def requirement(families: Iterable[str]) -> str:
    """labcoat's pip requirement for a model of these families' members, with the extras their
    libraries need.

    Examples
    --------
    >>> requirement(["lightgbm", "mlp"]) == f"labcoat[torch]=={__version__}"
    True
    """
    from labcoat.models import FAMILIES

    extras = sorted({extra for name in families if name in FAMILIES
                     and (extra := FAMILIES[name].extra) is not None})
    return f"labcoat{'[' + ','.join(extras) + ']' if extras else ''}=={__version__}"


def check_libraries(path: Path, families: Iterable[str]) -> None:
    """Refuse, before unpickling, a model with members whose library is not installed here."""
    from labcoat.models import FAMILIES

    for name in dict.fromkeys(families):
        why = FAMILIES[name].missing_library() if name in FAMILIES else None
        if why is not None:
            raise ModelFileError(f"The model in '{path}' has members of the {name} family. {why}")


def check_target(path: Path) -> None:
    """Refuse to write a model over a file, or over a folder holding anything but a model."""
    if not path.exists():
        return
    if not path.is_dir():
        raise ModelFileError(f"'{path}' exists and is a file; give a directory for the model.")
    if any(path.iterdir()) and not ((path / "MLmodel").is_file() or (path / "labcoat.json").is_file()):
        raise ModelFileError(f"'{path}' exists and holds files that are not a labcoat model; "
                             "choose another directory so nothing in it is lost.")


def native_dir(path: Path) -> Path:
    """The folder holding labcoat's own files: ``path`` itself (a plain folder, or a forecast
    model's, whose ``MLmodel`` sits beside them) or, for a row model, the ``artifacts``
    subfolder that has them."""
    if (path / "MLmodel").is_file() and not (path / "labcoat.json").is_file():
        found = sorted(path.glob("artifacts/*/labcoat.json"))
        if not found:
            raise ModelFileError(f"'{path}' is an MLflow model but not a labcoat one: no "
                                 "artifacts/*/labcoat.json in it.")
        return found[0].parent
    return path


# ---------------------------------------------------------------------- labcoat's own files
def write_native(model: "Model", path: Path) -> Path:
    """Write labcoat's own files (no MLflow wrapper) of ``model`` to directory ``path``."""
    import joblib

    path.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "labcoat_version": __version__, **model.info.to_dict(),
            "members": [{"family": m.family, "trial": m.trial, "weight": m.weight,
                         "style": m.style, "params": m.params, "preprocessor": m.preprocessor,
                         "rows": m.rows} for m in model.members]}
    (path / "labcoat.json").write_text(json.dumps(meta, indent=2, default=str))
    (path / "schema.json").write_text(model.schema.to_json())
    model.leaderboard.to_csv(path / "leaderboard.csv", index=False)
    if model.example is not None:
        model.example.to_json(path / "example.json", orient="split", index=False, date_format="iso")
    if model.explanations is not None:
        (path / "explanations.json").write_text(json.dumps(model.explanations, default=str))
    if model.reference is not None:
        (path / "reference.json").write_text(model.reference.to_json())
    joblib.dump({"preprocessors": model.preprocessors, "oof": model.oof,
                 "calibrator": model.calibrator, "threshold": model.threshold,
                 "estimators": [m.estimator for m in model.members], "bags": [m.bag for m in model.members]},
                path / "model.joblib")
    return path


@dataclass
class NativeFiles:
    """What :func:`read_native` found in a model folder, for :meth:`labcoat.Model.load`."""

    #: ``labcoat.json`` without the format and labcoat versions (``Model.info``) and its members.
    info: dict[str, Any]
    #: One dict per member (family, trial, weight, style, params, preprocessor, rows).
    members: list[dict[str, Any]]
    #: ``model.joblib``: preprocessors, estimators (in member order), oof, calibrator, threshold.
    payload: dict[str, Any]
    schema: Schema
    leaderboard: pd.DataFrame
    example: pd.DataFrame | None
    explanations: dict[str, Any] | None
    #: ``reference.json`` as a dict (:meth:`Reference.from_dict` reads it), or None.
    reference: dict[str, Any] | None


def read_native(path: str | Path) -> NativeFiles:
    """Read the files of a model written by :func:`save` (or of its ``artifacts/labcoat``
    folder): checks that they are all there and that this labcoat reads their format before
    anything is unpickled."""
    import joblib

    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(f"No model at '{path}': expected a directory written by Model.save "
                             "or `labcoat fit --out`.")
    path = native_dir(path)
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise ModelFileError(f"'{path}' is not a complete labcoat model: missing {', '.join(missing)}."
                             " Save the model again.")
    meta = json.loads((path / "labcoat.json").read_text())
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelFileError(
            f"The model in '{path}' was saved by labcoat {meta.get('labcoat_version')} (format "
            f"{meta['format_version']}); this is labcoat {__version__} (format {FORMAT_VERSION}). "
            "Upgrade labcoat to load it.")
    check_libraries(path, [str(m.get("family")) for m in meta.get("members", [])])
    payload = joblib.load(path / "model.joblib")
    schema = Schema.from_dict(json.loads((path / "schema.json").read_text()))
    members = meta.pop("members")
    leaderboard = pd.read_csv(path / "leaderboard.csv")
    example = None
    if (path / "example.json").is_file():
        example = pd.read_json(path / "example.json", orient="split", dtype=False)
    info = {k: v for k, v in meta.items() if k not in ("format_version", "labcoat_version")}
    explanations = (json.loads((path / "explanations.json").read_text())
                    if (path / "explanations.json").is_file() else None)
    reference = (json.loads((path / "reference.json").read_text())
                 if (path / "reference.json").is_file() else None)
    return NativeFiles(info=info, members=members, payload=payload, schema=schema,
                       leaderboard=leaderboard, example=example, explanations=explanations,
                       reference=reference)


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a model depends on (``info.versions``, lineage)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost-cpu", "xgboost", "catboost", "optuna",
                 "torch", "statsforecast", "mlforecast"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


__all__ = ["ARTIFACT", "ENTRY", "FILES", "FORMAT_VERSION", "NativeFiles", "check_libraries", "check_target",
           "library_versions", "native_dir", "quiet_mlflow", "read_native", "requirement", "save", "write_native"]
