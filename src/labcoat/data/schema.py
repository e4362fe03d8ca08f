"""Schema inference: the role of every column, the task, and the facts needed to check new data.

A :class:`Schema` is inferred once from the training frame and saved with the model.
At prediction time :meth:`Schema.prepare` turns any frame with the same columns into the
canonical frame the preprocessing was fitted on: columns in training order, one dtype per
role, target and unknown columns dropped, unsafe values named in a :class:`SchemaError`.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.values import FALSE_WORDS, TRUE_WORDS
from labcoat.errors import LabcoatNotice, SchemaError, TargetError, did_you_mean, listed


class Role(str, Enum):
    """What a column is, as far as modelling is concerned."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"
    CONSTANT = "constant"


#: Roles that feed models. Identifier and constant columns are excluded.
FEATURE_ROLES = (Role.NUMERIC, Role.CATEGORICAL, Role.BOOLEAN, Role.DATETIME, Role.TEXT)

#: Integer columns with at most this many distinct values are treated as categorical.
LOW_CARDINALITY_INTEGER = 10
_TRUE, _FALSE = set(TRUE_WORDS), set(FALSE_WORDS)
_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key|index|idx)$|^id[_\s-]|Id$", re.IGNORECASE)
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")


@dataclass
class Column:
    """One column of the training data and what was learned about it."""

    name: str
    role: Role
    dtype: str
    missing_rate: float
    n_unique: int
    reason: str = ""
    #: Observed values for categorical columns (most frequent first); [false, true] for booleans.
    categories: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["role"] = self.role.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Column":
        return cls(**{**data, "role": Role(data["role"])})


@dataclass
class Schema:
    """Column roles, the task and the target's classes, inferred from training data.

    :func:`labcoat.tasks.infer_schema` resolves the task from the target and infers the rest.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [20.5, 35.1, 51.0, 42.2] * 5, "plan": list("abab") * 5,
    ...                    "churn": ["no", "yes", "no", "yes"] * 5})
    >>> schema = Schema.infer(df, target="churn", task="binary", classes=["no", "yes"])
    >>> schema.task, schema.names(Role.NUMERIC)
    ('binary', ['age'])
    """

    target: str
    #: The task's name (``labcoat.tasks.get_task`` gives the task).
    task: str
    columns: list[Column]
    classes: list[Any] | None = None
    n_rows: int = 0
    notices: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ inference
    @staticmethod
    def check_target_column(df: pd.DataFrame, target: str) -> None:
        """Refuse a frame with unusable column names or without the ``target`` column."""
        _check_columns(df)
        if target not in df.columns:
            raise TargetError(
                f"Target column '{target}' is not in the data."
                f"{did_you_mean(target, df.columns)} Columns are: {_list(df.columns)}."
            )

    @classmethod
    def infer(cls, df: pd.DataFrame, target: str, *, task: str,
              classes: list[Any] | None = None) -> "Schema":
        """Infer roles for every column of ``df`` but ``target``, which is learnt as ``task``
        with ``classes`` (as :func:`labcoat.tasks.infer_schema` resolves them).

        Rows whose target is missing must already be removed (see :func:`drop_missing_target`).
        """
        cls.check_target_column(df, target)
        columns, notices = [], []
        for name in df.columns:
            if name == target:
                continue
            column = infer_column(df[name])
            columns.append(column)
            if column.role in (Role.IDENTIFIER, Role.CONSTANT):
                notices.append(f"Column '{name}' is excluded: {column.reason}.")
        if not any(c.role in FEATURE_ROLES for c in columns):
            raise SchemaError(
                f"No usable feature columns: every column besides the target '{target}' is an "
                f"identifier or constant ({_list(c.name for c in columns) or 'none'}). "
                "Add informative columns to the data."
            )
        return cls(target=target, task=task, columns=columns, classes=classes,
                   n_rows=len(df), notices=notices)

    # ------------------------------------------------------------------ access
    @property
    def features(self) -> list[Column]:
        """Columns that feed the models, in training order."""
        return [c for c in self.columns if c.role in FEATURE_ROLES]

    def names(self, *roles: Role) -> list[str]:
        """Names of the feature columns with one of ``roles`` (all features if none given)."""
        wanted = roles or FEATURE_ROLES
        return [c.name for c in self.columns if c.role in wanted]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        """A table of the columns: name, role, dtype, missing rate, distinct values, reason."""
        rows = [
            {"column": c.name, "role": c.role.value, "dtype": c.dtype,
             "missing": round(c.missing_rate, 4), "unique": c.n_unique, "note": c.reason}
            for c in self.columns
        ]
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ new data
    def prepare(self, df: pd.DataFrame, *, warn: bool = True) -> pd.DataFrame:
        """Return the canonical feature frame for ``df``: training column order, one dtype per role.

        Missing feature columns raise :class:`SchemaError` naming them; extra columns are
        ignored with a notice; values that cannot be safely converted are named.
        ``df`` itself is never modified.
        """
        prepared = self._prepare(df, warn)
        return prepared.to_frame() if isinstance(prepared, SmallFrame) else prepared

    def prepare_columns(self, df: pd.DataFrame, *,
                        warn: bool = True) -> "pd.DataFrame | SmallFrame":
        """:meth:`prepare`, but a few rows (≤ 64) come back as a :class:`SmallFrame` of column
        arrays instead of a DataFrame, for prediction, which only reads columns: building the
        frame is ~0.45 of the 0.7 ms :meth:`prepare` takes for one row of the churn benchmark
        (11 columns). Same checks, same values."""
        return self._prepare(df, warn)

    def _prepare(self, df: pd.DataFrame, warn: bool) -> "pd.DataFrame | SmallFrame":
        if not isinstance(df, pd.DataFrame):
            raise SchemaError(f"Expected a pandas DataFrame, got {type(df).__name__}.")
        features = self.features
        missing = [c.name for c in features if c.name not in df.columns]
        if missing:
            raise SchemaError(
                f"{len(missing)} column(s) the model was trained on are missing: {_list(missing)}."
                " Add them to the data (values may be empty)."
            )
        known = {c.name for c in self.columns} | {self.target}
        extra = [name for name in df.columns if name not in known]
        if extra and warn:
            warnings.warn(
                f"Ignoring {len(extra)} column(s) the model was not trained on: {_list(extra)}.",
                LabcoatNotice, stacklevel=3,  # the caller of prepare or prepare_columns
            )
        if len(df) <= _SMALL:
            fast = _prepare_small(df, features)
            if fast is not None:
                return fast
        return pd.DataFrame(
            {c.name: _coerce(df[c.name], c) for c in features}, index=df.index
        )

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "task": self.task,
            "classes": [_jsonable(v) for v in self.classes] if self.classes is not None else None,
            "n_rows": self.n_rows,
            "notices": self.notices,
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_jsonable)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Schema":
        return cls(
            target=data["target"], task=data["task"],
            columns=[Column.from_dict(c) for c in data["columns"]],
            classes=data.get("classes"), n_rows=data.get("n_rows", 0),
            notices=list(data.get("notices", [])),
        )


# ---------------------------------------------------------------------- helpers
def drop_missing_target(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """Return ``df`` without the rows whose target is missing, with a notice giving the count.

    Examples
    --------
    >>> drop_missing_target(pd.DataFrame({"y": [1, None, 0]}), "y").shape
    (2, 1)
    """
    _check_columns(df)
    if target not in df.columns:
        raise TargetError(
            f"Target column '{target}' is not in the data.{did_you_mean(target, df.columns)} "
            f"Columns are: {_list(df.columns)}."
        )
    missing = df[target].isna()
    if missing.all():
        raise TargetError(
            f"Target column '{target}' is empty: all {len(df)} values are missing. "
            "Check the column name and the file."
        )
    if missing.any():
        warnings.warn(
            f"Dropped {int(missing.sum())} of {len(df)} rows whose target '{target}' is missing.",
            LabcoatNotice, stacklevel=2,
        )
        return df.loc[~missing]
    return df


def infer_column(s: pd.Series) -> Column:
    """Infer the role of one column.

    Examples
    --------
    >>> infer_column(pd.Series(["2024-01-03", "2024-02-11", None] * 4, name="d")).role
    <Role.DATETIME: 'datetime'>
    """
    name = str(s.name)
    n = len(s)
    non_null = s.dropna()
    missing_rate = float(1 - len(non_null) / n) if n else 1.0
    n_unique = int(non_null.nunique())
    base: dict[str, Any] = dict(name=name, dtype=str(s.dtype), missing_rate=missing_rate,
                                n_unique=n_unique)

    if n_unique <= 1:
        if n_unique == 0:
            why = "all values are missing"
        else:
            value = non_null.iloc[0]
            why = f"it has one value ({getattr(value, 'item', lambda: value)()!r})"  # numpy -> Python
        return Column(role=Role.CONSTANT, reason=why, **base)
    if pd.api.types.is_bool_dtype(s.dtype):
        return Column(role=Role.BOOLEAN, categories=[False, True], reason="boolean values", **base)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return Column(role=Role.DATETIME, reason="datetime values", **base)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return _numeric_column(non_null, n, base)
    values = non_null.astype(str)
    lowered = set(values.str.strip().str.lower().unique())
    if n_unique == 2 and (lowered <= _TRUE | _FALSE) and lowered & _TRUE and lowered & _FALSE:
        false = next(v for v in values.unique() if v.strip().lower() in _FALSE)
        true = next(v for v in values.unique() if v.strip().lower() in _TRUE)
        return Column(role=Role.BOOLEAN, categories=[false, true], reason="two yes/no values", **base)
    if _looks_like_datetime(values):
        return Column(role=Role.DATETIME, reason="values parse as dates", **base)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        return _numeric_column(numeric, n, base)
    sample = values.sample(20_000, random_state=0) if len(values) > 20_000 else values
    words: Any = sample.str.split()  # pandas-stubs types .str on lists too narrowly
    mean_words = float(words.str.len().mean())
    unique_ratio = n_unique / max(len(values), 1)
    if mean_words >= 5 or (mean_words >= 2.5 and unique_ratio >= 0.5):
        return Column(role=Role.TEXT, reason=f"free text ({mean_words:.1f} words on average)", **base)
    if n_unique == len(non_null) == n and n >= 20:
        return Column(role=Role.IDENTIFIER, reason="a different value on every row (an identifier)",
                      **base)
    counts = values.value_counts()
    return Column(role=Role.CATEGORICAL, categories=counts.index.tolist(),
                  reason=f"{n_unique} categories", **base)


def _numeric_column(non_null: pd.Series, n: int, base: dict[str, Any]) -> Column:
    values = non_null.astype("float64")
    is_integer = bool(np.all(np.mod(values.to_numpy(), 1) == 0))
    n_unique = base["n_unique"]
    lo, hi = float(values.min()), float(values.max())
    if is_integer and n_unique == n >= 20:
        steps = np.diff(np.sort(values.to_numpy()))
        if _ID_NAME.search(base["name"]) or bool(np.all(steps == 1)):
            return Column(role=Role.IDENTIFIER, reason="a different integer on every row (an identifier)",
                          minimum=lo, maximum=hi, **base)
    if is_integer and n_unique <= LOW_CARDINALITY_INTEGER:
        cats = sorted(values.unique().tolist())
        return Column(role=Role.CATEGORICAL, categories=[_num_label(v) for v in cats],
                      reason=f"integer with {n_unique} distinct values", minimum=lo, maximum=hi,
                      **base)
    return Column(role=Role.NUMERIC, reason="numbers", minimum=lo, maximum=hi, **base)


def _looks_like_datetime(values: pd.Series) -> bool:
    sample = values.iloc[:500]
    if not sample.str.match(_DATE_LIKE).mean() >= 0.95:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


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


#: Frames up to this many rows are converted value by value (see :func:`_prepare_small`).
_SMALL = 64


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


def _check_columns(df: pd.DataFrame) -> None:
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"Expected a pandas DataFrame, got {type(df).__name__}.")
    counts = pd.Series(df.columns).value_counts()
    dupes = counts[counts > 1]
    if len(dupes):
        listed = ", ".join(f"'{k}' ({v} times)" for k, v in dupes.items())
        raise SchemaError(
            f"The data has duplicate column names: {listed}. Rename them so each column has one name."
        )
    if len(df) == 0:
        raise SchemaError("The data has no rows.")


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    return v


_list = listed
