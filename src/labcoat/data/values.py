"""How single values compare across sources: a CSV's ``7``, JSON's ``"7"`` and ``7.0`` are one
value; ``True`` reads as yes.

Examples
--------
>>> comparable(7.0), comparable("7"), comparable(True)
('7', '7', 'True')
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: Words read as true and as false (lower case).
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0", "0.0"})


def comparable(value: Any) -> str:
    """``value`` as text that is the same for the same value from any reader."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
