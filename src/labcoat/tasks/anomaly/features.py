"""The detectors' input from the schema: numbers imputed (median, with missing indicators) and
scaled, skewed positive numbers (amounts) on a log scale first; categoricals one-hot encoded
(at most :data:`ONE_HOT_MAX` values) and, all of them, as how rare their value is (a value seen
in few training rows is itself unusual); datetimes as their hour and day of the week (not the
date itself: every row scored later would look unusual by its date alone). Text is left out.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"amount": [1.5, 2.5, None, 4.5] * 5, "shop": list("aabc") * 5})
>>> schema = anomaly_schema(frame, exclude=())
>>> build_features(schema).fit(schema.prepare(frame)).get_feature_names_out().tolist()
['amount', 'missingindicator_amount', 'shop_a', 'shop_b', 'shop_c', 'shop_rarity']
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labcoat.data.columns import Column, Role
from labcoat.data.infer import infer_column
from labcoat.data.schema import Schema
from labcoat.errors import DataError, LabcoatNotice, listed
from labcoat.features.transformers import OneHot

#: Categoricals with at most this many values are also one-hot encoded.
ONE_HOT_MAX = 15
#: The schema's target name when no labels column is given (no column is ever called this).
NO_TARGET = "\x00no-labels"
#: The calendar parts a datetime column gives the detectors.
DATE_PARTS = ("hour", "day_of_week")


def anomaly_schema(frame: pd.DataFrame, *, exclude: Iterable[str], labels: str | None = None) -> Schema:
    """The schema of ``frame`` for detection: roles inferred per column (identifiers and
    constants excluded as in the tabular task), ``exclude`` and ``labels`` left out. A
    :class:`DataError` when no column is left to detect with."""
    left_out = {*exclude, *([labels] if labels else [])}
    columns = [_as_number(infer_column(frame[name]), frame[name]) for name in frame.columns if name not in left_out]
    schema = Schema(target=labels or NO_TARGET, task="anomaly", columns=columns, n_rows=len(frame))
    usable = [c for c in schema.features if c.role is not Role.TEXT]
    if not usable:
        described = listed(f"{c.name} ({c.role.value}{': ' + c.reason if c.reason else ''})" for c in columns)
        raise DataError("No usable column to detect anomalies with: every column is an identifier, a constant, text "
                        f"or left out ({described or 'there are no other columns'}). Give numbers, categories or "
                        "dates that describe each row.")
    for c in schema.features:
        if c.role is Role.TEXT:
            import warnings

            warnings.warn(f"Column '{c.name}' is free text; the detectors do not read text, it is left out.",
                          LabcoatNotice, stacklevel=3)
    return schema


def _as_number(column: Column, values: pd.Series) -> Column:
    """A column of numbers stays one even with few distinct values (the tabular schema makes
    integers with few values categories): how far a value is from the others is what the
    detectors measure, and a category has no far."""
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
    if column.role is Role.CATEGORICAL and numeric:
        return Column(column.name, Role.NUMERIC, column.dtype, column.missing_rate, column.n_unique,
                      f"numbers ({column.n_unique} distinct values)", minimum=column.minimum, maximum=column.maximum)
    return column


def feature_columns(schema: Schema) -> dict[str, str]:
    """The input columns the detectors read and their kinds (``numeric``, ``categorical``,
    ``boolean``, ``datetime``)."""
    return {c.name: c.role.value for c in schema.features if c.role is not Role.TEXT}


class SignedLog(TransformerMixin, BaseEstimator):
    """``sign(x) * log1p(|x|)`` on the columns whose training values are strongly right-skewed
    (skewness above 2 and no negative values: amounts, counts), the others as they are.

    >>> SignedLog().fit(np.array([[1.0]] * 19 + [[1000.0]])).skewed_.tolist()
    [True]
    """

    def fit(self, X: np.ndarray, y: object = None) -> "SignedLog":
        X = np.asarray(X, dtype=np.float64)
        with np.errstate(all="ignore"):
            skew = pd.DataFrame(X).skew().to_numpy()
        self.skewed_ = (np.nan_to_num(skew) > 2) & (np.nanmin(np.where(np.isnan(X), 0, X), axis=0) >= 0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64)
        X[:, self.skewed_] = np.sign(X[:, self.skewed_]) * np.log1p(np.abs(X[:, self.skewed_]))
        return X

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(input_features, dtype=object)


class Rarity(TransformerMixin, BaseEstimator):
    """Each categorical value as how rare it is: ``-log10`` of the share of training rows whose
    value is at most as common (missing counts as a value). A value never seen in training is
    as rare as Good-Turing's estimate of how often new values turn up: the share of training
    rows whose value occurs once (at least one row in ``n + 1``). So a new value of a column of
    a few common values (a country) is rare, and a new card id, in a column where most ids are
    seen once or twice, is not; a column whose values are all about equally common is never rare.

    >>> rarity = Rarity().fit(pd.DataFrame({"c": ["a"] * 97 + ["b", "b", "c"], "d": ["a", "b"] * 50}))
    >>> rarity.transform(pd.DataFrame({"c": ["a", "b", "z"], "d": ["a", "b", "z"]})).round(2).tolist()
    [[0.0, 0.0], [1.52, 0.0], [2.0, 2.0]]
    >>> ids = Rarity().fit(pd.DataFrame({"card": [f"card-{i // 2}" for i in range(60)] + [f"new-{i}" for i in range(40)]}))
    >>> (ids.transform(pd.DataFrame({"card": ["card-1", "never-seen"]})).round(2) + 0.0).tolist()
    [[0.0], [0.4]]
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> "Rarity":
        self.columns_ = list(X.columns)
        self.n_ = len(X)
        self.tails_ = {c: tail_shares(X[c]) for c in self.columns_}
        self.unseen_ = {c: unseen_share(X[c]) for c in self.columns_}
        return self

    def unseen(self, column: str) -> float:
        """The tail share of a value of ``column`` never seen in training."""
        fallback = 1.0 / (self.n_ + 1)  # models saved before unseen_ existed
        return getattr(self, "unseen_", {}).get(column, fallback)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.columns_)))
        for j, c in enumerate(self.columns_):
            values = pd.Series(np.asarray(X[c], dtype=object)).fillna(MISSING)
            out[:, j] = -np.log10(values.map(self.tails_[c]).fillna(self.unseen(c)).to_numpy(dtype=np.float64)) + 0.0
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"{c}_rarity" for c in self.columns_], dtype=object)


MISSING = "\x00missing"


def unseen_share(values: pd.Series) -> float:
    """Good-Turing's missing mass: the share of rows whose value occurs once (missing as a
    value), at least ``1 / (n + 1)``.

    >>> unseen_share(pd.Series(["a", "a", "b", "c"]))
    0.5
    """
    counts = pd.Series(np.asarray(values, dtype=object)).fillna(MISSING).value_counts()
    return max(float((counts == 1).sum()) / max(len(values), 1), 1.0 / (len(values) + 1))


def tail_shares(values: pd.Series) -> dict[Any, float]:
    """Each value's tail share: the share of rows whose value is at most as common as it
    (missing as :data:`MISSING`).

    >>> tail_shares(pd.Series(["a", "a", "b", "c"]))
    {'a': 1.0, 'b': 0.5, 'c': 0.5}
    """
    shares = pd.Series(np.asarray(values, dtype=object)).fillna(MISSING).value_counts(normalize=True)
    ordered = shares.sort_values(kind="stable")
    cumulative = ordered.groupby(ordered.to_numpy(), sort=True).sum().cumsum()  # by share, ties together
    return {key: float(cumulative[share]) for key, share in shares.items()}


class DateParts(TransformerMixin, BaseEstimator):
    """A datetime column's hour and day of the week (those that vary in training).

    >>> DateParts().fit(pd.DataFrame({"t": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 23:00"])})).transform(
    ...     pd.DataFrame({"t": pd.to_datetime(["2024-01-05 03:00"])})).tolist()
    [[3.0, 4.0]]
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> "DateParts":
        self.parts_ = {c: [p for p in DATE_PARTS if self._part(X[c], p).nunique() > 1] for c in X.columns}
        return self

    @staticmethod
    def _part(values: Any, part: str) -> pd.Series:
        stamps = pd.DatetimeIndex(values)
        return pd.Series(getattr(stamps, part), dtype="float64")

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        columns = [self._part(X[c], p).to_numpy() for c, parts in self.parts_.items() for p in parts]
        return np.column_stack(columns) if columns else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"{c}_{p}" for c, parts in self.parts_.items() for p in parts], dtype=object)


def build_features(schema: Schema) -> ColumnTransformer:
    """An unfitted transformer from ``schema.prepare(frame)`` to the detectors' dense matrix."""
    numeric = schema.names(Role.NUMERIC, Role.BOOLEAN)
    categorical = schema.names(Role.CATEGORICAL)
    dates = schema.names(Role.DATETIME)
    low = [c for c in categorical if len(schema.column(c).categories or ()) <= ONE_HOT_MAX]
    parts: list[tuple[str, Any, Any]] = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                                         keep_empty_features=True), SignedLog(), StandardScaler()),
                      numeric))
    if low:
        parts.append(("onehot", _DenseOneHot(min_frequency=3), low))
    if categorical:
        parts.append(("rarity", Rarity(), categorical))  # in decimal orders of rarity: 2 = 1 row in 100
    if dates:
        parts.append(("dates", make_pipeline(DateParts(), SimpleImputer(strategy="median", keep_empty_features=True),
                                             StandardScaler()), dates))
    return ColumnTransformer(parts, sparse_threshold=0.0, verbose_feature_names_out=False)


class _DenseOneHot(OneHot):
    """labcoat's one-hot encoding, dense (the detectors take dense arrays)."""

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # type: ignore[override]
        return self.transform_dense(X)


def check_matrix(X: np.ndarray) -> None:
    """Refuse a feature matrix with nothing to tell rows apart (every column constant)."""
    if X.shape[1] == 0 or not np.any(np.ptp(X, axis=0) > 0):
        raise DataError("Every row looks the same to the detectors (the usable columns are constant once missing "
                        "values are filled): there is nothing to find unusual. Give columns that vary.")
