"""Role inference: the :class:`Column` (role and facts) of a training column read from its
values (constant, boolean, datetime, numeric, text, identifier or categorical), and the checks
of a training frame before it (usable column names, rows without a target dropped).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.coerce import _FALSE, _TRUE, _num_label
from labcoat.data.columns import Column, Role
from labcoat.errors import LabcoatNotice, SchemaError, TargetError, did_you_mean
from labcoat.errors import listed as _list

#: Integer columns with at most this many distinct values are treated as categorical.
LOW_CARDINALITY_INTEGER = 10
_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key|index|idx)$|^id[_\s-]|Id$", re.IGNORECASE)
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")


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
        return Column(role=Role.IDENTIFIER, reason="a different value on every row",
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
            return Column(role=Role.IDENTIFIER, reason="a different integer on every row",
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
