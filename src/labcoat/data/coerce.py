"""Coercion of incoming columns to the schema: each value converted to the one dtype of its
column's role (float for numbers and booleans, canonical strings for categories, datetimes,
text), with the values that cannot be converted safely named in a :class:`SchemaError`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Column, Role
from labcoat.data.values import FALSE_WORDS, TRUE_WORDS
from labcoat.errors import SchemaError

_TRUE, _FALSE = set(TRUE_WORDS), set(FALSE_WORDS)


def _coerce(s: pd.Series, column: Column) -> pd.Series:
    role = column.role
    if role is Role.NUMERIC:
        return _to_float(s, column)
    if role is Role.BOOLEAN:
        false, true = column.categories or [False, True]
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.astype("float64")
        text = s.astype("object").map(lambda v: v if v is None or v != v else str(v).strip().lower())
        out = pd.Series(np.nan, index=s.index, dtype="float64")
        out[text.isin(_TRUE | {str(true).lower()})] = 1.0
        out[text.isin(_FALSE | {str(false).lower()})] = 0.0
        return out
    if role is Role.CATEGORICAL:
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            values = s.astype("float64")
            return values.map(_num_label, na_action="ignore").astype("object")
        return s.astype("object").map(_str_or_nan).astype("object")
    if role is Role.DATETIME:
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            return s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(s, errors="coerce", format="mixed", utc=True)
        bad = s[parsed.isna() & s.notna()]
        if len(bad):
            raise SchemaError(
                f"Column '{column.name}' should hold dates, but {len(bad)} value(s) are not dates, "
                f"for example {bad.iloc[0]!r}. Fix them or leave them empty."
            )
        return parsed.dt.tz_localize(None)
    if role is Role.TEXT:
        return s.astype("object").map(lambda v: "" if v is None or v != v else str(v)).astype("object")
    raise AssertionError(role)


def _to_float(s: pd.Series, column: Column) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64")
    numeric = pd.to_numeric(s, errors="coerce")
    bad = s[numeric.isna() & s.notna() & (s.astype("object").map(lambda v: str(v).strip()) != "")]
    if len(bad):
        raise SchemaError(
            f"Column '{column.name}' should hold numbers, but {len(bad)} value(s) are not numbers, "
            f"for example {bad.iloc[0]!r}. Fix them or leave them empty."
        )
    return numeric.astype("float64")


def _num_label(v: float) -> str:
    """Canonical string for a numeric category: 3.0 -> '3', 2.5 -> '2.5'."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _str_or_nan(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return np.nan
    return str(v)
