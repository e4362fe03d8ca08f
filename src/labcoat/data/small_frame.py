"""The small-frame fast path of low-latency prediction: a few rows are prepared value by value
in plain Python into a :class:`SmallFrame` of column arrays, with the same values as the general
coercion, which takes any column whose values it is not sure to convert identically.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.coerce import _FALSE, _TRUE, _coerce, _num_label, _str_or_nan
from labcoat.data.columns import Column, Role


class SmallFrame:
    """The prepared columns of a few rows as plain 1-D arrays, in training order: float64 for
    numbers and booleans, object for categories (str or NaN) and text (str), datetime64 for
    dates. ``small[name]`` and ``len(small)`` work as on the DataFrame :meth:`Schema.prepare`
    returns, which :meth:`to_frame` builds."""

    __slots__ = ("columns", "index")

    def __init__(self, columns: dict[str, np.ndarray], index: pd.Index) -> None:
        self.columns = columns
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def to_frame(self, names: list[str] | None = None) -> pd.DataFrame:
        """The DataFrame :meth:`Schema.prepare` gives (of the columns ``names``, default all)."""
        names = list(self.columns) if names is None else names
        # Object columns through a Series with an explicit object dtype: pandas 3 would
        # otherwise infer its string dtype.
        frame = pd.DataFrame({n: _objects(self.columns[n]) if self.columns[n].dtype == object
                              else self.columns[n] for n in names})
        frame.index = self.index
        return frame


class _Unsure(Exception):
    """A value the plain conversion is not sure to convert as the general one: the column
    goes through :func:`_coerce` (which also words the errors)."""


def _prepare_small(df: pd.DataFrame, features: list[Column]) -> SmallFrame | None:
    """:meth:`Schema.prepare` for a few rows in plain Python, or ``None`` to take the general path.

    Converting one row column by column through pandas costs ~2.5 ms for 20 columns (dtype
    resolution dominates); this costs 0.25 ms for the churn benchmark's 11 columns (1.6 ms
    when it still built a DataFrame and converted booleans and dates through pandas), and
    gives the same values. It converts only
    values whose conversion is plainly the same (numbers, None/NaN, strings where a string
    is the answer); a column holding anything else (numbers sent as strings, pd.NA,
    timestamps, ...) takes the general conversion, :func:`_coerce`, which also words the errors.
    """
    if not df.columns.is_unique:
        return None
    position = {name: i for i, name in enumerate(df.columns)}
    dtypes = df.dtypes.tolist()
    rows = df.to_numpy(dtype=object) if len(df) else np.empty((0, len(position)), dtype=object)
    out: dict[str, np.ndarray] = {}
    for column in features:
        j = position[column.name]
        try:
            out[column.name] = _small_column(rows[:, j].tolist(), column, dtypes[j])
        except _Unsure:
            out[column.name] = _coerce(df[column.name], column).to_numpy()
    return SmallFrame(out, df.index)


def _small_column(raw: list[Any], column: Column, dtype: Any) -> np.ndarray:
    """One column of :func:`_prepare_small`; :class:`_Unsure` leaves it to :func:`_coerce`."""
    role = column.role
    if role is Role.NUMERIC:
        return np.array([_small_float(v) for v in raw], dtype=np.float64)
    if role is Role.CATEGORICAL:
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            values = [_small_float(v) for v in raw]
            return _object_array([v if v != v else _num_label(v) for v in values])
        return _object_array([_str_or_nan(_plain(v)) for v in raw])
    if role is Role.TEXT:
        return _object_array(["" if v is None or v != v else str(v) for v in map(_plain, raw)])
    if role is Role.BOOLEAN:
        if pd.api.types.is_bool_dtype(dtype):
            if not all(isinstance(v, (bool, np.bool_)) for v in raw):
                raise _Unsure
            return np.array(raw, dtype=np.float64)
        false, true = column.categories or [False, True]
        trues, falses = _TRUE | {str(true).lower()}, _FALSE | {str(false).lower()}
        out = []
        for v in map(_plain, raw):
            text = v if v is None or v != v else str(v).strip().lower()
            out.append(0.0 if text in falses else 1.0 if text in trues else np.nan)
        return np.array(out, dtype=np.float64)
    if role is Role.DATETIME:
        if dtype != object and not isinstance(dtype, pd.StringDtype):
            raise _Unsure  # datetimes already, or numbers: the general conversion
        if not all(v is None or isinstance(v, str) or (isinstance(v, float) and v != v)
                   for v in raw):
            raise _Unsure
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(_object_array(raw), errors="coerce", format="mixed", utc=True)
        if any(isinstance(v, str) for v, bad in zip(raw, parsed.isna()) if bad):
            raise _Unsure  # not a date: the general conversion names it
        return parsed.tz_localize(None).to_numpy()
    raise AssertionError(role)


#: Types whose conversion the plain path does exactly as pandas does (see :func:`_plain`).
_PLAIN = (str, float, int, bool, np.floating, np.integer, np.bool_)


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, _PLAIN):
        return v
    raise _Unsure  # pd.NA, NaT, timestamps, Decimal, ...: the general conversion decides


def _small_float(v: Any) -> float:
    """``float(v)`` for values whose conversion to float64 is the same in pandas; strings (whose
    parsing differs: ``float("1_000")`` is 1000, ``pd.to_numeric`` refuses it) are not."""
    if v is None:
        return np.nan
    if isinstance(v, (float, np.float32, np.float16, bool, np.bool_)):  # exact in float64
        return float(v)
    if isinstance(v, (int, np.integer)) and -2**53 <= v <= 2**53:
        return float(v)
    raise _Unsure


def _object_array(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _objects(values: Any) -> pd.Series:
    # A Series with an explicit object dtype: pandas 3 would otherwise infer its string dtype.
    return pd.Series(values, dtype=object)
