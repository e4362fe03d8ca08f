"""The detectors' input for a few rows, computed in plain numpy and Python from the fitted
transformer's learned values: what ``ColumnTransformer.transform`` gives (the same numbers),
without its per-call cost (column selection, validation and a joblib call per part: about
12 ms on one row, against well under 1 ms here). The service scores rows one at a time, and
its latency target is 10 ms a row.

:func:`compile_features` returns None for a transformer with a part it does not know (one
:func:`~labcoat.tasks.anomaly.features.build_features` never builds): the model then uses the
transformer itself.

Examples
--------
>>> import pandas as pd
>>> from labcoat.tasks.anomaly.features import anomaly_schema, build_features
>>> frame = pd.DataFrame({"amount": [1.0, 2.0, None, 400.0] * 5, "shop": list("aabc") * 5})
>>> schema = anomaly_schema(frame, exclude=())
>>> prepared = schema.prepare(frame)
>>> fitted = build_features(schema).fit(prepared)
>>> bool(np.allclose(compile_features(fitted).transform(prepared.head(3)), fitted.transform(prepared.head(3))))
True
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from labcoat.data.small_frame import SmallFrame
from labcoat.tasks.anomaly.features import MISSING, DateParts, Rarity, SignedLog, _DenseOneHot

#: Frames of at most this many rows take the fast path.
SMALL = 64

#: A compiled part: the prepared rows' columns (name -> 1-D object array) -> its feature columns.
Part = Callable[[SmallFrame], np.ndarray]


class FastFeatures:
    """The compiled parts of a fitted transformer, each ``prepared frame -> columns``."""

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts

    def transform(self, prepared: pd.DataFrame) -> np.ndarray:
        """The feature matrix of ``prepared`` (rows as ``schema.prepare`` gives them), whose
        columns are read once, as object arrays (a column of a DataFrame costs ~0.1 ms a read)."""
        values = prepared.to_numpy(dtype=object).T
        columns = SmallFrame(dict(zip(map(str, prepared.columns), values)), prepared.index)
        blocks = [part(columns) for part in self.parts]
        return np.hstack(blocks) if blocks else np.empty((len(prepared), 0))


def compile_features(transformer: Any) -> FastFeatures | None:
    """The fast path of a fitted ``ColumnTransformer`` built by ``build_features`` (None when
    it holds a part this module does not know)."""
    parts: list[Part] = []
    for name, step, columns in getattr(transformer, "transformers_", []):
        if step == "drop" or name == "remainder":
            continue
        part = _compile(step, list(columns))
        if part is None:
            return None
        parts.append(part)
    return FastFeatures(parts)


def _compile(step: Any, columns: list[str]) -> Part | None:
    if isinstance(step, Rarity):
        return _rarity(step)
    if isinstance(step, _DenseOneHot):
        return lambda frame: step.transform_dense(frame)
    if not isinstance(step, Pipeline):
        return None
    first, *rest = [s for _, s in step.steps]
    if isinstance(first, DateParts):
        start: Part = _date_parts(first)
    elif isinstance(first, SimpleImputer):
        start = _numbers(first, columns)
    else:
        return None
    steps = [_array_step(s) for s in rest]
    if any(s is None for s in steps):
        return None

    def run(frame: SmallFrame) -> np.ndarray:
        X = start(frame)
        for s in steps:
            X = s(X)  # type: ignore[misc]
        return X
    return run


def _numbers(imputer: SimpleImputer, columns: list[str]) -> Part:
    """The imputer on the numeric columns: missing values filled with the training medians,
    then the missing indicators of the columns that had missing values in training."""
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    indicated = np.asarray(imputer.indicator_.features_, dtype=int) if imputer.indicator_ is not None else None

    def run(frame: SmallFrame) -> np.ndarray:
        X = np.column_stack([np.asarray(frame[c], dtype=np.float64) for c in columns])
        missing = np.isnan(X)
        X = np.where(missing, fill, X)
        return np.hstack([X, missing[:, indicated].astype(np.float64)]) if indicated is not None else X
    return run


def _date_parts(parts: DateParts) -> Part:
    wanted = [(column, part) for column, names in parts.parts_.items() for part in names]

    def run(frame: SmallFrame) -> np.ndarray:
        stamps = {column: pd.DatetimeIndex(list(frame[column])) for column in parts.parts_}
        columns = [np.asarray(getattr(stamps[c], p), dtype=np.float64) for c, p in wanted]
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))
    return run


def _array_step(step: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    if isinstance(step, SimpleImputer) and step.indicator_ is None:
        fill = np.asarray(step.statistics_, dtype=np.float64)
        return lambda X: np.where(np.isnan(X), fill, X)
    if isinstance(step, SignedLog):
        skewed = step.skewed_

        def signed_log(X: np.ndarray) -> np.ndarray:
            X = X.copy()
            X[:, skewed] = np.sign(X[:, skewed]) * np.log1p(np.abs(X[:, skewed]))
            return X
        return signed_log
    if isinstance(step, StandardScaler):
        mean = step.mean_ if step.with_mean else 0.0
        scale = step.scale_ if step.with_std else 1.0
        return lambda X: (X - mean) / scale
    return None


def _rarity(rarity: Rarity) -> Part:
    """Each value's ``-log10`` tail share by dictionary look-up (missing as its own value; a
    value never seen as :meth:`Rarity.unseen` says)."""

    def run(frame: SmallFrame) -> np.ndarray:
        out = np.empty((len(frame), len(rarity.columns_)))
        for j, column in enumerate(rarity.columns_):
            tails, unseen = rarity.tails_[column], rarity.unseen(column)
            shares = [tails.get(MISSING if _missing(v) else v, unseen) for v in frame[column].tolist()]
            out[:, j] = -np.log10(np.asarray(shares, dtype=np.float64)) + 0.0
        return out
    return run


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)
