"""Small formatting helpers shared by the model report's modules: a value as a finite float
(or None) and a number as text for people."""
from __future__ import annotations

import math
from typing import Any


def _num(value: Any) -> float | None:
    """A finite float, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _short(value: Any) -> str:
    from labcoat.reports.render import fmt

    return fmt(value)
