"""Monitoring: the reference profile saved with every model, and drift of new data against it.

Imported lazily (``import labcoat.monitor`` loads no statistics library):

>>> from labcoat.monitor import build_reference, detect_drift, DriftOptions   # doctest: +SKIP

See :mod:`labcoat.monitor.reference` for the profile and :mod:`labcoat.monitor.drift` for the
tests.
"""
from __future__ import annotations

import sys
import types
from typing import Any

_EXPORTS = {
    "Reference": "labcoat.monitor.reference",
    "ColumnReference": "labcoat.monitor.reference",
    "build_reference": "labcoat.monitor.reference",
    "model_reference": "labcoat.monitor.reference",
    "detect_drift": "labcoat.monitor.drift",
    "DriftOptions": "labcoat.monitor.drift",
    "DriftReport": "labcoat.monitor.drift",
    "ColumnDrift": "labcoat.monitor.drift",
    "monitor": "labcoat.monitor.check",
    "MonitorResult": "labcoat.monitor.result",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'labcoat.monitor' has no attribute {name!r}")


class _CallablePackage(types.ModuleType):
    """``labcoat.monitor`` is this package and, called, the check
    :func:`labcoat.monitor.check.monitor`: importing a submodule rebinds ``labcoat.monitor`` to
    the package, so the package itself must be callable for ``labcoat.monitor(model, ...)`` to
    work whatever was imported first."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from labcoat.monitor.check import monitor

        return monitor(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
