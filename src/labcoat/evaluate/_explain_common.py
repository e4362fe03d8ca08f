"""What the explanation modules share: the rows they explain (checked, prepared and sampled
the same way), the label of the output they explain, the check of their size arguments and the
plain-Python form of values for JSON."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, SchemaError

if TYPE_CHECKING:
    from labcoat.model import Model


def _prepare(model: Model, frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"Expected a pandas DataFrame to explain, got {type(frame).__name__}.")
    if not len(frame):
        raise SchemaError("The data to explain has no rows.")
    return model.schema.prepare(frame, warn=False)


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most ``n`` rows of ``frame``, drawn without replacement, in their original order."""
    if len(frame) <= n:
        return frame
    picked = np.sort(np.random.default_rng(seed).choice(len(frame), n, replace=False))
    return frame.iloc[picked]


def _output_label(model: Model, k: int | None) -> str:
    """What the explained output is: ``"P(target=class)"`` or the target's name."""
    return model.task.output_label(model.schema.target, model.schema.classes, k)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a whole number >= 1; got {value!r}.")


def _jsonable(value: Any) -> Any:
    """Plain Python for JSON: numbers, strings, booleans, ``None`` for missing, ISO dates."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if value != value or math.isinf(value) else float(value)
    if isinstance(value, (int, str)):
        return value
    return str(value)
