"""labcoat: the work of an ML scientist and an ML engineer, end to end.

>>> import labcoat                                              # doctest: +SKIP
>>> model = labcoat.fit("churn.csv", target="churned", budget="1m")  # doctest: +SKIP
>>> model.predict_proba(new_rows)                                # doctest: +SKIP

Heavy libraries (scikit-learn, the boosters, Optuna) are imported on first use, so
``import labcoat`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "fit": ("labcoat.train", "fit"),
    "match": ("labcoat.train.match", "match"),
    "load": ("labcoat.api", "load"),
    "compare": ("labcoat.api", "compare"),
    "retrain": ("labcoat.lifecycle.retrain", "retrain"),
    "monitor": ("labcoat.lifecycle.check", "monitor"),
    "Model": ("labcoat.model", "Model"),
    "Schema": ("labcoat.data.schema", "Schema"),
    "read_table": ("labcoat.data.io", "read_table"),
    "LabcoatError": ("labcoat.errors", "LabcoatError"),
    "LabcoatNotice": ("labcoat.errors", "LabcoatNotice"),
    "AutoClassifier": ("labcoat.estimators", "AutoClassifier"),
    "AutoRegressor": ("labcoat.estimators", "AutoRegressor"),
}

if TYPE_CHECKING:
    from labcoat.api import compare, load
    from labcoat.data.io import read_table
    from labcoat.data.schema import Schema
    from labcoat.errors import LabcoatError, LabcoatNotice
    from labcoat.estimators import AutoClassifier, AutoRegressor
    from labcoat.lifecycle.retrain import retrain
    from labcoat.model import Model
    from labcoat.lifecycle.check import monitor
    from labcoat.train import fit
    from labcoat.train.match import match


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name == "datasets":
        import importlib

        return importlib.import_module(f"labcoat.{name}")
    raise AttributeError(f"module 'labcoat' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, "datasets"])


__all__ = ["AutoClassifier", "AutoRegressor", "LabcoatError", "LabcoatNotice", "Model", "Schema",
           "__version__", "compare", "fit", "load", "match", "monitor", "read_table", "retrain"]
