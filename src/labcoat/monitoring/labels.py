"""Ground truth for the current rows: read from a file (``--labels``), joined to the rows by an
id column or by row order, and encoded as the metrics expect.

Examples
--------
>>> import pandas as pd
>>> labels = Labels.read(pd.DataFrame({"id": [2, 1], "y": ["no", "yes"]}), label_column="y", id_column="id")
>>> labels.lookup(pd.DataFrame({"id": [1, 2, 3]})).tolist()
['yes', 'no', nan]
>>> from labcoat.tasks import get_task
>>> encode(pd.Series(["yes", "no", 1]), ["no", "yes"], task=get_task("binary"))
Traceback (most recent call last):
...
labcoat.errors.DataError: 1 label(s) are not classes of the model (['no', 'yes']), e.g. 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.data.values import comparable
from labcoat.errors import DataError, did_you_mean

if TYPE_CHECKING:
    from labcoat.tasks import Task


@dataclass
class Labels:
    """Labels of a file, by id (``id_column``) or in row order."""

    values: pd.Series
    id_column: str | None
    label_column: str
    _offset: int = 0

    @classmethod
    def read(cls, source: Any, *, label_column: str, id_column: str | None = None) -> Labels:
        """Read ``source`` (a file or frame) and check it has the columns asked for."""
        from labcoat.data.io import read_table

        frame = read_table(source)
        where = f"'{source}'" if not isinstance(source, pd.DataFrame) else "the labels"
        for option, name in (("--label-column", label_column), ("--id-column", id_column)):
            if name is not None and name not in frame.columns:
                raise DataError(f"Column '{name}' ({option}) is not in {where}.{did_you_mean(name, frame.columns)}"
                                f" Its columns are: {', '.join(map(str, frame.columns[:20]))}.")
        if id_column is None:
            return cls(frame[label_column].reset_index(drop=True), None, label_column)
        ids = frame[id_column]
        repeated = ids[ids.duplicated()]
        if len(repeated):
            raise DataError(f"{where} has {len(repeated)} repeated id(s) in '{id_column}' "
                            f"(e.g. {repeated.iloc[0]!r}); give one label per id.")
        return cls(pd.Series(frame[label_column].to_numpy(), index=_keys(ids)), id_column, label_column)

    def lookup(self, rows: pd.DataFrame) -> pd.Series:
        """The labels of ``rows`` (NaN where none), aligned with them; in row order, the next
        ``len(rows)`` labels."""
        if self.id_column is None:
            part = self.values.iloc[self._offset:self._offset + len(rows)]
            self._offset += len(rows)
            return pd.Series(part.to_numpy(), index=rows.index[:len(part)]).reindex(rows.index)
        if self.id_column not in rows.columns:
            raise DataError(f"The id column '{self.id_column}' (--id-column) is not in the current data."
                            f"{did_you_mean(self.id_column, rows.columns)}")
        found = self.values.reindex(_keys(rows[self.id_column]))
        return pd.Series(found.to_numpy(), index=rows.index)

    def check_consumed(self, rows: int) -> None:
        """In row order, the labels must have exactly as many rows as the current data."""
        if self.id_column is None and len(self.values) != rows:
            raise DataError(f"The labels have {len(self.values):,} rows but the current data {rows:,}; without "
                            "--id-column they are matched by row order, so the counts must agree. Give "
                            "--id-column to join them by an id.")


def encode(values: pd.Series, classes: list[Any] | None, *, task: Task) -> np.ndarray:
    """Labels as the metrics expect them (``Task.encode_labels``), refused with a clear error
    when one is not a class of the model or not a number.

    >>> from labcoat.tasks import get_task
    >>> encode(pd.Series([True, "no"]), ["no", "yes"], task=get_task("binary")).tolist()
    [1, 0]
    """
    codes, usable = task.encode_labels(values, classes)
    unknown = values[~usable]
    if len(unknown) and classes is None:
        raise DataError(f"{len(unknown)} label(s) are not numbers, e.g. {unknown.iloc[0]!r}; the model "
                        "predicts a number.")
    if len(unknown):
        raise DataError(f"{len(unknown)} label(s) are not classes of the model ({list(classes or [])}), "
                        f"e.g. {unknown.iloc[0]!r}.")
    return codes


def _keys(ids: pd.Series) -> pd.Index:
    """Ids in a comparable form, so that 7 (from a CSV) and "7" (from JSON) join."""
    return pd.Index([comparable(v) for v in ids.tolist()])
