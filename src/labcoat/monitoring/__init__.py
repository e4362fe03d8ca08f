"""Monitoring: the reference profile saved with every model, and drift of new data against it.

Imported lazily (``import labcoat.monitoring`` loads no statistics library):

>>> from labcoat.monitoring import build_reference, detect_drift, DriftOptions   # doctest: +SKIP

See :mod:`labcoat.monitoring.reference` for the profile and :mod:`labcoat.monitoring.drift` for the
tests.
"""
from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Reference": "labcoat.monitoring.reference",
    "ColumnReference": "labcoat.monitoring.reference",
    "build_reference": "labcoat.monitoring.reference",
    "model_reference": "labcoat.monitoring.reference",
    "detect_drift": "labcoat.monitoring.drift",
    "DriftOptions": "labcoat.monitoring.drift",
    "DriftReport": "labcoat.monitoring.drift",
    "ColumnDrift": "labcoat.monitoring.drift",
    "MonitorResult": "labcoat.monitoring.result",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'labcoat.monitoring' has no attribute {name!r}")
