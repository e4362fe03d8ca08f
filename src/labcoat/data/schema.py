"""The schema record: the role of every column, the task, and the facts needed to check new data.

A :class:`Schema` is inferred once from the training frame and saved with the model.
At prediction time :meth:`Schema.prepare` turns any frame with the same columns into the
canonical frame the preprocessing was fitted on: columns in training order, one dtype per
role, target and unknown columns dropped, unsafe values named in a :class:`SchemaError`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.coerce import _coerce
from labcoat.data.columns import FEATURE_ROLES, Column, Role
from labcoat.data.documents import Documents
from labcoat.data.infer import _check_columns, infer_column
from labcoat.data.io import string_columns
from labcoat.data.small_frame import SmallFrame, _prepare_small
from labcoat.errors import LabcoatNotice, SchemaError, TargetError, did_you_mean, listed


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
    #: The text column the text families read (``labcoat.models.text``), or None.
    documents: Documents | None = None

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
                notices.append(f"Column '{name}' is excluded ({column.role.value}): {column.reason}.")
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
        names = df.columns.tolist()  # membership in a set: Index.__contains__ costs ~1 µs
        if not all(type(name) is str for name in names):  # a numpy array's frame: 0, 1, ... named '0', '1', ...
            df = string_columns(df)
            names = df.columns.tolist()
        present = set(names)
        missing = [c.name for c in features if c.name not in present]
        if missing:
            raise SchemaError(
                f"{len(missing)} column(s) the model was trained on are missing: {_list(missing)}."
                " Add them to the data (values may be empty)."
            )
        known = {c.name for c in self.columns} | {self.target}
        extra = [name for name in names if name not in known]
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
            "documents": None if self.documents is None else self.documents.to_dict(),
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
            documents=Documents.from_dict(data.get("documents")),
        )


#: Frames up to this many rows are converted value by value (see :func:`_prepare_small`).
_SMALL = 64


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    return v


_list = listed
