"""Check request rows against the training schema before the model sees them.

Refused (HTTP 422, naming the field, the value and the reason): a required column missing, a
value of the wrong type (text in a numeric column, a non-date in a date column). Flagged but
answered (returned as ``warnings`` and counted in ``/metrics``): unknown columns (ignored), a
missing value where training had none, a category not seen in training (handled as in
training: as unknown), a number outside the training range.

Checks work column by column on whole arrays, so their cost grows with the columns, not with
the cells (600 columns × 100 rows: see ``benchmarks/serving.py``).

Examples
--------
>>> import pandas as pd
>>> from labcoat.tasks import infer_schema
>>> train = pd.DataFrame({"age": [20 + 1.5 * i for i in range(20)], "plan": ["a", "b"] * 10,
...                       "y": [0, 1] * 10})
>>> validator = Validator(infer_schema(train, "y"))
>>> checked = validator.check(pd.DataFrame({"age": [99.0], "plan": ["c"], "extra": [1]}))
>>> [(w.column, w.reason) for w in checked.warnings]  # doctest: +NORMALIZE_WHITESPACE
[('extra', 'unknown column, ignored'), ('age', 'above the training range [20, 48.5]'),
 ('plan', 'category not seen in training (treated as unknown)')]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.coerce import _FALSE, _TRUE
from labcoat.data.columns import Column, Role
from labcoat.data.schema import Schema

#: At most this many problems of one kind are listed per column.
EXAMPLES = 3
#: Requests up to this many rows are checked value by value (see ``Validator._check_values``).
SMALL = 64


@dataclass(frozen=True)
class Problem:
    """One finding on the request: where (column, row), the value and why."""

    column: str
    reason: str
    row: int | None = None
    value: Any = None
    kind: str = "value_error"

    def detail(self, body_key: str = "rows") -> dict[str, Any]:
        """FastAPI's error-detail shape: ``{"loc", "msg", "type", "input"}``."""
        loc: list[Any] = ["body", body_key] + ([self.row] if self.row is not None else []) + [self.column]
        return {"loc": loc, "msg": f"{self.column}: {self.reason}", "type": self.kind,
                "input": _jsonable(self.value)}

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "row": self.row, "value": _jsonable(self.value), "reason": self.reason}


class RequestInvalid(Exception):
    """The request cannot be answered; ``problems`` say why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.column}: {p.reason}" for p in problems))
        self.problems = problems


@dataclass
class Checked:
    """The rows to predict (unknown columns dropped) and what was flagged on them."""

    frame: pd.DataFrame
    warnings: list[Problem] = field(default_factory=list)


class Validator:
    """Checks frames against one model's training schema (built once per loaded model)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.features = schema.features
        self.names = [c.name for c in self.features]
        self._known = set(self.names) | {c.name for c in schema.columns} | {schema.target}
        self._categories = {c.name: _category_labels(c.categories) for c in self.features
                            if c.role is Role.CATEGORICAL}
        numeric = [c for c in self.features if c.role is Role.NUMERIC]
        self._numeric = [c.name for c in numeric]
        self._low = np.array([-np.inf if c.minimum is None else c.minimum for c in numeric])
        self._high = np.array([np.inf if c.maximum is None else c.maximum for c in numeric])
        #: Columns without a missing value in training: a gap in a request is flagged.
        self._complete = [c.name for c in self.features if c.missing_rate == 0]

    def check(self, frame: pd.DataFrame) -> Checked:
        """Raise :class:`RequestInvalid` for what cannot be answered; return the rows to
        predict with the flags otherwise."""
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise RequestInvalid([Problem(n, "required column missing (the model was trained on it)",
                                          kind="missing") for n in missing])
        warnings = [Problem(str(n), "unknown column, ignored", kind="unknown_column")
                    for n in frame.columns if n not in self._known]
        if len(frame) <= SMALL:
            self._check_values(frame, warnings)
            return Checked(frame[self.names] if len(frame.columns) != len(self.names) else frame, warnings)
        errors: list[Problem] = []
        self._numbers(frame, errors, warnings)
        for column in self.features:
            if column.role is Role.CATEGORICAL:
                self._categorical(column, frame[column.name], warnings)
            elif column.role is Role.DATETIME:
                self._datetime(column, frame[column.name], errors)
            elif column.role is Role.BOOLEAN:
                self._boolean(column, frame[column.name], errors)
        if errors:
            raise RequestInvalid(errors)
        if self._complete:
            gaps = frame[self._complete].isna().to_numpy()
            for j in np.flatnonzero(gaps.any(axis=0)):
                warnings.append(Problem(self._complete[j], "missing value, none in training (imputed)",
                                        int(np.flatnonzero(gaps[:, j])[0]), kind="missing_value"))
        return Checked(frame[self.names] if len(frame.columns) != len(self.names) else frame, warnings)

    def _check_values(self, frame: pd.DataFrame, warnings: list[Problem]) -> None:
        """:meth:`check` for a few rows, value by value in plain Python: the same problems, in
        the same order, as the array path (tests/test_serve_validation.py compares them), at a
        tenth of its cost on one row (~0.1 ms against ~1 ms; pandas' per-column dtype work
        dominates there)."""
        lists = dict(zip(frame.columns, frame.to_numpy(dtype=object).T.tolist()))
        errors: list[Problem] = []
        numbers: list[list[float | None]] = []
        for name in self._numeric:
            column = [_number(v) for v in lists[name]]
            bad = [row for row, number in enumerate(column) if number is None]
            errors += [Problem(name, "expected a number", row, lists[name][row], "type_error")
                       for row in bad[:EXAMPLES]]
            numbers.append(column)
        if not errors:  # as the array path: ranges only when every number converts
            for side in ("below", "above"):
                for j, column in enumerate(numbers):
                    low, high = self._low[j], self._high[j]
                    row = next((i for i, x in enumerate(column)
                                if x is not None and (x < low if side == "below" else x > high)), None)
                    if row is not None:
                        warnings.append(Problem(self._numeric[j], f"{side} the training range [{low:g}, {high:g}]",
                                                row, column[row], "out_of_range"))
        for feature in self.features:
            values = lists[feature.name]
            if feature.role is Role.CATEGORICAL:
                self._categorical(feature, values, warnings)
            elif feature.role is Role.DATETIME:
                if not all(_missing(v) or _iso_date(v) for v in values):
                    self._datetime(feature, pd.Series(values, dtype=object), errors)
            elif feature.role is Role.BOOLEAN:
                self._boolean(feature, values, errors)
        if errors:
            raise RequestInvalid(errors)
        for name in self._complete:
            row = next((i for i, v in enumerate(lists[name]) if _missing(v)), None)
            if row is not None:
                warnings.append(Problem(name, "missing value, none in training (imputed)", row, kind="missing_value"))

    def _numbers(self, frame: pd.DataFrame, errors: list[Problem], warnings: list[Problem]) -> None:
        """All numeric columns in one array (numpy reads None as NaN); a column that will not
        convert is looked at alone to name its bad values."""
        if not self._numeric:
            return
        try:
            numbers = frame[self._numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            columns = [self._column_numbers(name, frame[name], errors) for name in self._numeric]
            if errors:
                return
            numbers = np.column_stack(columns)
        with np.errstate(invalid="ignore"):
            for side, flags in (("below", numbers < self._low), ("above", numbers > self._high)):
                for j in np.flatnonzero(flags.any(axis=0)):
                    row = int(np.flatnonzero(flags[:, j])[0])
                    low, high = self._low[j], self._high[j]
                    warnings.append(Problem(self._numeric[j], f"{side} the training range [{low:g}, {high:g}]",
                                            row, float(numbers[row, j]), "out_of_range"))

    @staticmethod
    def _column_numbers(name: str, values: pd.Series, errors: list[Problem]) -> np.ndarray:
        numbers = pd.to_numeric(values.astype(object), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(np.isnan(numbers) & values.notna().to_numpy())
        for row in bad[:EXAMPLES]:
            errors.append(Problem(name, "expected a number", int(row), values.iloc[row], "type_error"))
        return numbers

    def _categorical(self, column: Column, values: pd.Series | list[Any], warnings: list[Problem]) -> None:
        known = self._categories[column.name]
        for row, value in enumerate(values if isinstance(values, list) else values.tolist()):
            if value is not None and value == value and _label(value) not in known:
                warnings.append(Problem(column.name, "category not seen in training (treated as unknown)",
                                        row, value, "unseen_category"))
                return

    def _boolean(self, column: Column, values: pd.Series | list[Any], errors: list[Problem]) -> None:
        if isinstance(values, pd.Series):
            if pd.api.types.is_bool_dtype(values.dtype):
                return
            values = values.tolist()
        false, true = column.categories or [False, True]
        accepted = _TRUE | _FALSE | {str(true).lower(), str(false).lower()}
        for row, value in enumerate(values):
            if value is not None and value == value and str(value).strip().lower() not in accepted:
                errors.append(Problem(column.name, f"expected true/false (or {false!r}/{true!r})", row, value,
                                      "type_error"))
                return

    def _datetime(self, column: Column, values: pd.Series, errors: list[Problem]) -> None:
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            return
        parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
        bad = np.flatnonzero((parsed.isna() & values.notna()).to_numpy())
        for row in bad[:EXAMPLES]:
            errors.append(Problem(column.name, "expected a date or time", int(row), values.iloc[row], "type_error"))


def _category_labels(categories: list[Any] | None) -> frozenset[str]:
    return frozenset(_label(c) for c in categories or ())


def _label(value: Any) -> str:
    """A category's comparable form: 3, 3.0 and "3" are the same category."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | None:
    """``value`` as the array path reads it (missing → NaN), or None when it is not a number."""
    if _missing(value):
        return np.nan
    if isinstance(value, (bool, int, float, np.integer, np.floating, np.bool_)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _iso_date(value: Any) -> bool:
    """An ISO 8601 date pandas also reads (years 1678–2261, the range of its nanosecond
    timestamps); anything else is left to the general check."""
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    return 1677 < parsed.year < 2262
