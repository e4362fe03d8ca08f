"""The table to segment, read into a schema (column roles without a target) and a distance
space: numbers and dates standardised (missing → the median), categoricals and booleans
one-hot encoded and weighted as k-prototypes does (Huang's γ = 1 on standardised numbers: a
category mismatch costs as much as one standard deviation squared, whatever the number of
categories), text left out with a notice.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"x": [i * 1.5 for i in range(20)], "c": list("abab") * 5})
>>> schema = infer_segment_schema(frame)
>>> [c.role.value for c in schema.features]
['numeric', 'categorical']
>>> space = build_space(schema).fit(schema.prepare(frame))
>>> space.transform(schema.prepare(frame)).shape
(20, 3)
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from labcoat.data.columns import FEATURE_ROLES, Role
from labcoat.data.infer import infer_column
from labcoat.data.schema import Schema
from labcoat.errors import DataError, LabcoatNotice, listed
from labcoat.features.transformers import OneHot

#: Rare categories (fewer rows than this) share one "other" column.
MIN_CATEGORY_ROWS = 5
#: A one-hot column is multiplied by this, so that a mismatch (two columns differing by 1)
#: adds 2 × WEIGHT² = 1 to the squared distance: one standard deviation of a number, squared.
CATEGORY_WEIGHT = float(np.sqrt(0.5))
#: Roles the segments are found on (text is left out).
SEGMENT_ROLES = (Role.NUMERIC, Role.BOOLEAN, Role.DATETIME, Role.CATEGORICAL)


def infer_segment_schema(frame: pd.DataFrame, *, exclude: tuple[str, ...] = ()) -> Schema:
    """The roles of ``frame``'s columns (as :meth:`Schema.infer` gives them, without a target):
    identifiers, constants and text are left out with a notice, ``exclude`` without one."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"Give the rows to segment as a table (a DataFrame or a file); got {type(frame).__name__}.")
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"The data has duplicate column names: {listed(duplicated)}. Rename them so each column "
                        "has one name.")
    unknown = [c for c in exclude if c not in frame.columns]
    if unknown:
        raise DataError(f"Cannot exclude {listed(unknown)}: not in the data. Columns are: {listed(frame.columns)}.")
    if len(frame) < 20:
        raise DataError(f"Segmenting needs at least 20 rows; the data has {len(frame)}.")
    columns, notices = [], []
    for name in frame.columns:
        if name in exclude:
            continue
        column = infer_column(frame[name])
        if column.role == Role.TEXT:
            notices.append(f"Column '{name}' is left out of the segmentation (free text).")
            column.reason = "free text is not segmented on"
        elif column.role not in FEATURE_ROLES:
            notices.append(f"Column '{name}' is left out of the segmentation ({column.role.value}): {column.reason}.")
        columns.append(column)
    schema = Schema(target="", task="segment", columns=[c for c in columns if c.role != Role.TEXT]
                    + [c for c in columns if c.role == Role.TEXT], n_rows=len(frame), notices=notices)
    if not segment_columns(schema):
        raise DataError("No column to segment on: every column is an identifier, constant or free text "
                        f"({listed(c.name for c in columns) or 'none'}). Add numeric or categorical columns.")
    for notice in notices:
        warnings.warn(notice, LabcoatNotice, stacklevel=3)
    return schema


def segment_columns(schema: Schema) -> list[str]:
    """The columns the segments are found on."""
    return schema.names(*SEGMENT_ROLES)


def _days(values: pd.DataFrame) -> np.ndarray:
    """Datetime columns as days since 1970 (missing → NaN)."""
    out = [pd.DatetimeIndex(values[c]).as_unit("s").asi8.astype("float64") / 86_400 for c in values.columns]
    array = np.column_stack(out)
    missing = np.column_stack([pd.isna(values[c]).to_numpy() for c in values.columns])
    array[missing] = np.nan
    return array


def _weighted(values: object) -> object:
    return values * CATEGORY_WEIGHT  # type: ignore[operator]  # sparse or dense, both scale


def build_space(schema: Schema) -> ColumnTransformer:
    """The unfitted transformer from ``schema.prepare(frame)`` to the distance space."""
    numeric = schema.names(Role.NUMERIC)
    categorical = schema.names(Role.CATEGORICAL, Role.BOOLEAN)
    dates = schema.names(Role.DATETIME)
    parts: list[tuple[str, object, list[str]]] = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                                           StandardScaler()), numeric))
    if dates:
        parts.append(("dates", make_pipeline(FunctionTransformer(_days), SimpleImputer(strategy="median",
                                             keep_empty_features=True), StandardScaler()), dates))
    if categorical:
        parts.append(("cat", make_pipeline(OneHot(min_frequency=MIN_CATEGORY_ROWS),
                                           FunctionTransformer(_weighted, accept_sparse=True)), categorical))
    return ColumnTransformer(parts, sparse_threshold=0.0, verbose_feature_names_out=False)


def categorical_share(schema: Schema) -> float:
    """The share of the segmenting columns that are categorical or boolean."""
    used = segment_columns(schema)
    return len(schema.names(Role.CATEGORICAL, Role.BOOLEAN)) / max(len(used), 1)
