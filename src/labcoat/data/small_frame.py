"""The small-frame fast path of low-latency prediction: a few rows are prepared value by value
in plain Python into a :class:`SmallFrame` of column arrays, with the same values as the general
coercion, which takes any column whose values it is not sure to convert identically.
"""

from __future__ import annotations

import functools
import re
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
    position = {name: i for i, name in enumerate(df.columns.tolist())}
    columns, dtypes = object_columns(df)
    out: dict[str, np.ndarray] = {}
    for column in features:
        j = position[column.name]
        try:
            out[column.name] = _small_column(columns[j], column, dtypes[j])
        except _Unsure:
            out[column.name] = _coerce(df[column.name], column).to_numpy()
    return SmallFrame(out, df.index)


_OBJECT = np.dtype(object)


def object_columns(df: pd.DataFrame) -> tuple[list[list[Any]], list[Any]]:
    """Each column's values as lists, the objects ``df.to_numpy(dtype=object)`` holds, and
    each column's dtype (``df.dtypes``, which builds a Series: ~10 µs).

    That call costs ~8 µs a column of strings on one row (pandas 3 keeps them in Arrow: their
    ``astype(object)`` iterates in Python inside a warnings context) and 0.23 ms for the 29
    columns of hypothyroid; taking the frame's blocks one by one, as pandas' own conversion
    does (``Block.get_values(object)``), with strings through their ``to_numpy`` and numbers
    as one list per block, costs a fraction. Falls back to ``to_numpy`` should the frame's
    internals not be the expected ones.
    """
    try:
        out: list[Any] = [None] * df.shape[1]
        dtypes: list[Any] = [None] * df.shape[1]
        for block in df._mgr.blocks:
            values = block.values
            if isinstance(values, np.ndarray) and values.ndim == 2 and values.dtype.kind in "fiubO":
                lists = values.tolist()  # the same Python objects as astype(object) gives
            elif isinstance(values.dtype, pd.StringDtype):
                # The same strings and missing values as its astype(object), at a twentieth of
                # the cost (no iteration through Python, no warnings context); Arrow's own
                # list of an Arrow-backed column, its missing values as the dtype's, a third less.
                arrow = getattr(values, "_pa_array", None)
                if arrow is not None and hasattr(arrow, "to_pylist"):
                    na = values.dtype.na_value
                    lists = [[na if v is None else v for v in arrow.to_pylist()]]
                else:
                    lists = [values.to_numpy(dtype=object).tolist()]
            else:
                lists = np.asarray(block.get_values(_OBJECT)).reshape(block.shape).tolist()
            for at, column in zip(block.mgr_locs.as_array.tolist(), lists):
                out[at], dtypes[at] = column, values.dtype
        n_rows = len(df)
        if all(isinstance(column, list) and len(column) == n_rows for column in out):
            return out, dtypes
    except (AttributeError, TypeError, ValueError, IndexError):
        pass
    rows = df.to_numpy(dtype=object) if len(df) else np.empty((0, df.shape[1]), dtype=object)
    return rows.T.tolist(), df.dtypes.tolist()


def _small_column(raw: list[Any], column: Column, dtype: Any) -> np.ndarray:
    """One column of :func:`_prepare_small`; :class:`_Unsure` leaves it to :func:`_coerce`."""
    role = column.role
    if role is Role.NUMERIC:
        if isinstance(dtype, np.dtype) and dtype.kind in "fi":  # a numpy block's own floats or ints
            block = np.array(raw, dtype=dtype)
            if dtype.kind == "f" or ((block >= -2**53) & (block <= 2**53)).all():  # ints float64 holds exactly
                return block.astype(np.float64)
            raise _Unsure
        return np.array([_small_float(v) for v in raw], dtype=np.float64)
    if role is Role.CATEGORICAL:
        if _numbers(dtype):
            values = [_small_float(v) for v in raw]
            return _object_array([v if v != v else _num_label(v) for v in values])
        return _object_array([_str_or_nan(_plain(v)) for v in raw])
    if role is Role.TEXT:
        return _object_array(["" if v is None or v != v else str(v) for v in map(_plain, raw)])
    if role is Role.BOOLEAN:
        if _booleans(dtype):
            if not all(isinstance(v, (bool, np.bool_)) for v in raw):
                raise _Unsure
            return np.array(raw, dtype=np.float64)
        false, true = column.categories or [False, True]
        trues, falses = _words(str(true).lower(), str(false).lower())
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
        iso = _iso_dates(raw)
        if iso is not None:
            return iso
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(_object_array(raw), errors="coerce", format="mixed", utc=True)
        if any(isinstance(v, str) for v, bad in zip(raw, parsed.isna()) if bad):
            raise _Unsure  # not a date: the general conversion names it
        return parsed.tz_localize(None).to_numpy()
    raise AssertionError(role)


def _booleans(dtype: Any) -> bool:
    """``is_bool_dtype``: numpy's and pandas 3's strings answered without it (~2 µs a call,
    per column and call, and hashing a StringDtype costs as much)."""
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return dtype.kind == "b"
    if isinstance(dtype, pd.StringDtype):
        return False
    return bool(pd.api.types.is_bool_dtype(dtype))


def _numbers(dtype: Any) -> bool:
    """A numeric dtype other than booleans (as :func:`_booleans`)."""
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return dtype.kind in "iufc"
    if isinstance(dtype, pd.StringDtype):
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_bool_dtype(dtype)


@functools.lru_cache(maxsize=256)
def _words(true: str, false: str) -> tuple[frozenset[str], frozenset[str]]:
    """The spellings of true and of false for a boolean column of these two values."""
    return frozenset(_TRUE | {true}), frozenset(_FALSE | {false})


#: Plain ISO 8601 dates and times without zone, in ranges numpy and pandas both take.
_ISO = re.compile(r"(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
                  r"([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?")


def _iso_dates(raw: list[Any]) -> np.ndarray | None:
    """Dates (strings, None or NaN) parsed as the general conversion parses them, when every
    string is a plain ISO date or time (``2019-03-26``, ``2019-03-26 16:21:11.5``), else None.

    ``pd.to_datetime`` costs ~70 µs for one value; numpy parses these ~0.5 µs and gives the
    same instant (naive strings are read as UTC there and made naive again). The unit is the
    one pandas gives strings (microseconds in pandas 3, nanoseconds before, where dates out
    of its range are left to pandas)."""
    unit = _string_date_unit()
    if unit not in ("us", "ns") or not any(isinstance(v, str) for v in raw) or \
            not all(_ISO.fullmatch(v) for v in raw if isinstance(v, str)):
        return None
    try:
        parsed = np.array([v if isinstance(v, str) else "NaT" for v in raw], dtype="datetime64[us]")
    except ValueError:  # February 30th, say: pandas words the error
        return None
    if unit == "ns":
        years = parsed[~np.isnat(parsed)].astype("datetime64[Y]").astype(np.int64) + 1970
        if len(years) and (years.min() < 1678 or years.max() > 2261):
            return None
    return parsed.astype(f"datetime64[{unit}]")


@functools.cache
def _string_date_unit() -> str:
    """The unit of datetimes pandas parses from strings (it changed in pandas 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(_object_array(["2000-01-01 00:00:00"]), errors="coerce",
                                format="mixed", utc=True)
    return str(np.datetime_data(parsed.tz_localize(None).to_numpy().dtype)[0])


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
