"""Small scikit-learn transformers the preprocessing is built from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

if TYPE_CHECKING:
    import scipy.sparse as sp

    from labcoat.data.small_frame import SmallFrame

_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour")


class DatetimeParts(TransformerMixin, BaseEstimator):
    """Turn datetime columns into numbers: calendar parts and seconds since the epoch.

    Parts that never vary in the training data (the hour of pure dates, say) are left out.

    Examples
    --------
    >>> df = pd.DataFrame({"d": pd.to_datetime(["2023-01-01", "2024-03-05"])})
    >>> DatetimeParts().fit(df).get_feature_names_out().tolist()
    ['d_year', 'd_month', 'd_day', 'd_day_of_week', 'd_day_of_year', 'd_epoch_days']
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> "DatetimeParts":
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.parts_ = {}
        for name in X.columns:
            values = pd.DatetimeIndex(X[name])
            kept = [p for p in _PARTS if pd.Series(getattr(values, p)).nunique(dropna=True) > 1]
            self.parts_[name] = kept
        return self

    def transform(self, X: pd.DataFrame | SmallFrame) -> np.ndarray:
        columns = []
        for name, parts in self.parts_.items():
            raw = X[name]
            if len(X) <= _SMALL and isinstance(raw.dtype, np.dtype) and raw.dtype.kind == "M":
                columns += _small_parts(np.asarray(raw), parts)
                continue
            # One unit whatever the input's (pandas parses to s, ms, us or ns by source): the
            # epoch below counts seconds, which also holds any year from 1 to 9999.
            values = pd.DatetimeIndex(raw).as_unit("s")
            missing = values.isna()
            for part in parts:
                columns.append(np.where(missing, np.nan, getattr(values, part)).astype("float64"))
            epoch = values.asi8.astype("float64") / 86_400
            columns.append(np.where(missing, np.nan, epoch))
        if not columns:
            return np.empty((len(X), 0))
        return np.column_stack(columns)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = [f"{name}_{p}" for name, parts in self.parts_.items() for p in [*parts, "epoch_days"]]
        return np.asarray(names, dtype=object)


def _small_parts(values: np.ndarray, parts: list[str]) -> list[np.ndarray]:
    """:meth:`DatetimeParts.transform`'s columns for a few naive datetimes, by numpy's calendar
    arithmetic instead of a DatetimeIndex: 0.15 → 0.02 ms for one date (building the
    DatetimeIndex and each field accessor are the cost). The same proleptic Gregorian
    calendar and the same flooring to seconds; tests check it against the pandas path from
    year 1 to 9999, before 1970 and below the second."""
    seconds = values.astype("datetime64[s]")
    missing = np.isnat(seconds)
    days = seconds.astype("datetime64[D]")
    months = seconds.astype("datetime64[M]")
    years = seconds.astype("datetime64[Y]")
    fields = {"year": lambda: years.astype(np.int64) + 1970,
              "month": lambda: (months - years).astype(np.int64) + 1,
              "day": lambda: (days - months).astype(np.int64) + 1,
              "day_of_week": lambda: (days.astype(np.int64) + 3) % 7,  # 1970-01-01 was a Thursday
              "day_of_year": lambda: (days - years).astype(np.int64) + 1,
              "hour": lambda: (seconds - days).astype(np.int64) // 3600}
    columns = [np.where(missing, np.nan, fields[part]()).astype("float64") for part in parts]
    columns.append(np.where(missing, np.nan, seconds.astype(np.int64).astype("float64") / 86_400))
    return columns


class CategoryStrings(TransformerMixin, BaseEstimator):
    """Categorical columns as strings with missing values spelled ``"__missing__"`` (for CatBoost).

    Examples
    --------
    >>> CategoryStrings().fit_transform(pd.DataFrame({"c": ["a", None]})).tolist()
    [['a'], ['__missing__']]
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> "CategoryStrings":
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame | SmallFrame) -> np.ndarray:
        # Plain Python is ~10x faster than pandas on a few rows (a SmallFrame has at most _SMALL).
        if len(X) <= _SMALL or not isinstance(X, pd.DataFrame):
            columns = [X[name].tolist() for name in self.feature_names_in_]
            return np.array([["__missing__" if v != v or v is None else str(v) for v in row]
                             for row in zip(*columns)], dtype=object).reshape(len(X), len(columns))
        return X.astype("object").fillna("__missing__").astype(str).to_numpy(dtype=object)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


#: Inputs up to this many rows take the per-value dictionary path (single-row serving).
_SMALL = 64


class OrdinalCodes(TransformerMixin, BaseEstimator):
    """Categorical columns as codes 0..k-1 in the order of ``categories``; unknown and missing → NaN.

    Written instead of using scikit-learn's OrdinalEncoder because encoding one row with it costs
    ~1.5 ms (input validation, per-column set checks) against ~0.1 ms here; single-row
    prediction latency is dominated by such fixed costs. Large inputs use pandas' vectorised
    ``Categorical`` codes.

    Examples
    --------
    >>> enc = OrdinalCodes(categories=[["a", "b"]]).fit(pd.DataFrame({"c": ["a"]}))
    >>> enc.transform(pd.DataFrame({"c": ["b", "z", None]})).ravel().tolist()
    [1.0, nan, nan]
    """

    def __init__(self, categories: list[list[object]]) -> None:
        self.categories = categories

    def fit(self, X: pd.DataFrame, y: object = None) -> "OrdinalCodes":
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.maps_ = [{v: float(i) for i, v in enumerate(cats)} for cats in self.categories]
        return self

    def transform(self, X: pd.DataFrame | SmallFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.maps_)), dtype=np.float64)
        for j, (name, mapping) in enumerate(zip(self.feature_names_in_, self.maps_)):
            values = X[name]
            if len(X) <= _SMALL:
                out[:, j] = [mapping.get(v, np.nan) for v in values.tolist()]
            else:
                codes = pd.Categorical(values, categories=self.categories[j]).codes
                out[:, j] = np.where(codes < 0, np.nan, codes)
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


class NormalQuantiles(TransformerMixin, BaseEstimator):
    """Numeric columns through their training quantiles to a standard normal; NaN stays NaN.

    What scikit-learn's ``QuantileTransformer(output_distribution="normal")`` computes (ties
    take the middle of their ranks; outputs within about ±5.2), on all training rows instead of
    a subsample, reading columns by name so that a :class:`SmallFrame` of one row is quick,
    and with one difference: values equal to the training minimum or maximum also take the
    middle of their ranks, where scikit-learn sends them to ±5.2 (every 0 of a count column).
    Neural networks train better on such inputs than on scaled heavy tails.

    Examples
    --------
    >>> enc = NormalQuantiles().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0, 100.0, None]}))
    >>> enc.transform(pd.DataFrame({"x": [2.5, 1e6, None]})).round(2).ravel().tolist()
    [0.0, 5.2, nan]
    """

    _tables: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] | None = None
    _padded: _Knots | None = None

    def __init__(self, n_quantiles: int = 1000) -> None:
        self.n_quantiles = n_quantiles

    def fit(self, X: pd.DataFrame, y: object = None) -> "NormalQuantiles":
        self._tables = self._padded = None
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.quantiles_ = []
        for name in X.columns:
            values = np.asarray(X[name], dtype=np.float64)
            values = values[np.isfinite(values)]
            k = max(2, min(self.n_quantiles, len(values)))
            self.quantiles_.append(np.quantile(values, np.linspace(0, 1, k)) if len(values) else np.zeros(2))
        return self

    def transform(self, X: pd.DataFrame | SmallFrame) -> np.ndarray:
        from scipy.special import ndtri

        x = np.empty((len(X), len(self.quantiles_)), dtype=np.float64)
        for j, name in enumerate(self.feature_names_in_):
            x[:, j] = np.asarray(X[name], dtype=np.float64)
        # Up the quantiles and down them, averaged: a tie takes the middle of its ranks.
        if len(x) <= _FEW_ROWS:
            u = self._padded_table().rank(x)
        else:
            u = np.empty_like(x)
            for j, (q, ranks_j, down_j, down_ranks_j) in enumerate(zip(self.quantiles_, *self._rank_tables())):
                u[:, j] = 0.5 * (np.interp(x[:, j], q, ranks_j) - np.interp(-x[:, j], down_j, down_ranks_j))
        # One call for all columns: per column, these took half of a row's time on 64 columns.
        return np.where(np.isnan(x), np.nan, ndtri(np.clip(u, _BOUND, 1 - _BOUND)))

    def _rank_tables(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Per column, the ranks of its quantiles, and both reversed and negated (made once)."""
        tables = self._tables
        if tables is None:
            ranks = [np.linspace(0, 1, len(q)) for q in self.quantiles_]
            down = [-q[::-1] for q in self.quantiles_]
            tables = self._tables = (ranks, down, [-r[::-1] for r in ranks])
        return tables

    def _padded_table(self) -> _Knots:
        """The quantiles and their ranks as :class:`_Knots` (made once)."""
        padded = self._padded
        if padded is None:
            padded = self._padded = _Knots.of(self.quantiles_, self._rank_tables()[0])
        return padded

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = dict(super().__getstate__())  # not the tables: made again on load
        state.pop("_tables", None)
        state.pop("_padded", None)
        return state

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


#: scikit-learn's QuantileTransformer bound: ndtri(1e-7) = -5.2.
_BOUND = 1e-7
#: Rows up to which NormalQuantiles interpolates all columns at once (two np.interp calls a
#: column: 0.19 ms of one row on 50 columns).
_FEW_ROWS = 4


@dataclass(frozen=True)
class _Knots:
    """Every column's ``np.interp`` table at once: its distinct knots (ascending, rows padded
    with +inf), the value at the first and at the last of each knot's repeats, and each row's
    last distinct index. With repeats dropped, a discrete column (a pixel's 17 values among
    1,000 quantiles) costs 17 comparisons a row, not 1,000."""

    knots: np.ndarray
    first: np.ndarray
    last: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, knots: list[np.ndarray], values: list[np.ndarray]) -> "_Knots":
        distinct = [np.unique(k, return_index=True) for k in knots]
        width = max(2, max(len(d) for d, _ in distinct))
        table = np.full((len(knots), width), np.inf)
        first, last = np.ones_like(table), np.ones_like(table)
        for j, ((d, starts), v) in enumerate(zip(distinct, values)):
            stops = np.append(starts[1:], len(v)) - 1  # np.unique's indexes are of first occurrences
            table[j, :len(d)], first[j, :len(d)], last[j, :len(d)] = d, v[starts], v[stops]
        return cls(table, first, last, np.array([len(d) - 1 for d, _ in distinct]))

    def rank(self, x: np.ndarray) -> np.ndarray:
        """Per column ``j``, what ``0.5 * (np.interp(x, knots_j, values_j) - np.interp(-x,
        -knots_j[::-1], -values_j[::-1]))`` gives (:class:`NormalQuantiles`' ties in the middle of
        their ranks), in one pass: at a knot the middle of its first and last repeat's value;
        between two knots the line from the lower's last value to the upper's first; below
        the first knot the first value, beyond the last the last value. Costs rows x columns x
        distinct knots comparisons.

        >>> knots = _Knots.of([np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.0, 10.0])],
        ...                   [np.array([0.0, 0.3, 0.6, 1.0]), np.array([0.0, 1.0])])
        >>> knots.rank(np.array([[1.0, 5.0], [1.5, -1.0], [3.0, np.inf]])).round(6).tolist()
        [[0.45, 0.5], [0.8, 0.0], [1.0, 1.0]]
        """
        count = (self.knots[None, :, :] <= x[:, :, None]).sum(axis=2)
        columns = np.arange(x.shape[1])
        at = np.clip(count - 1, 0, self.ends)  # the last knot at or below x
        exact = (count > 0) & (self.knots[columns, at] == x)
        left = np.minimum(at, np.maximum(self.ends - 1, 0))
        x0, x1 = self.knots[columns, left], self.knots[columns, left + 1]
        y0, y1 = self.last[columns, left], self.first[columns, left + 1]
        with np.errstate(divide="ignore", invalid="ignore"):  # the ends, where the result is not taken
            between = (y1 - y0) / (x1 - x0) * (x - x0) + y0
        middle = 0.5 * (self.first[columns, at] + self.last[columns, at])
        return np.where(count == 0, self.first[:, 0],
                        np.where(exact, middle, np.where(count > self.ends, self.last[columns, self.ends], between)))


class OneHot(TransformerMixin, BaseEstimator):
    """One-hot encoding to a sparse matrix; values seen fewer than ``min_frequency`` times, and
    values never seen, share one "other" column per input column; missing is its own value.

    Written instead of scikit-learn's OneHotEncoder for latency, as :class:`OrdinalCodes`:
    one row through 13 columns costs 2.7 ms there and ~0.15 ms here. Same encoding as
    ``OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=...)``.

    Examples
    --------
    >>> enc = OneHot(min_frequency=2).fit(pd.DataFrame({"c": ["a", "a", "b", None, None]}))
    >>> enc.get_feature_names_out().tolist()
    ['c_nan', 'c_a', 'c_other']
    >>> enc.transform(pd.DataFrame({"c": ["a", "zzz"]})).toarray().tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """

    _MISSING = "\x00missing"

    def __init__(self, min_frequency: int = 1) -> None:
        self.min_frequency = min_frequency

    def fit(self, X: pd.DataFrame, y: object = None) -> "OneHot":
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.maps_, self.other_, names, start = [], [], [], 0
        for name in X.columns:
            counts = X[name].astype(object).fillna(self._MISSING).value_counts()
            frequent = sorted(counts[counts >= self.min_frequency].index, key=str)
            rare = bool((counts < self.min_frequency).any())
            self.maps_.append({v: start + i for i, v in enumerate(frequent)})
            names += [f"{name}_{'nan' if v == self._MISSING else v}" for v in frequent]
            start += len(frequent)
            self.other_.append(start if rare else -1)
            if rare:
                names.append(f"{name}_other")
                start += 1
        self.names_ = np.asarray(names, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> sp.csr_matrix:
        import scipy.sparse as sp

        rows, cols = self._entries(X)
        data = np.ones(len(rows))
        return sp.csr_matrix((data, (rows, cols)), shape=(len(X), len(self.names_)))

    def transform_dense(self, X: pd.DataFrame | SmallFrame) -> np.ndarray:
        """:meth:`transform` as a dense array, for a few rows: building the sparse matrix
        is most of :meth:`transform`'s cost there (one row: 0.13 ms, 0.005 ms without it)."""
        rows, cols = self._entries(X)
        out = np.zeros((len(X), len(self.names_)))
        out[rows, cols] = 1.0
        return out

    def _entries(self, X: pd.DataFrame | SmallFrame) -> tuple[list[int], list[int]]:
        """Row and column of every 1 in the encoding."""
        n = len(X)
        rows, cols = [], []
        for name, mapping, other in zip(self.feature_names_in_, self.maps_, self.other_):
            values = X[name].tolist() if n <= _SMALL else X[name].astype(object).tolist()
            for i, v in enumerate(values):
                key = self._MISSING if v is None or v != v else v
                j = mapping.get(key, other)
                if j >= 0:
                    rows.append(i)
                    cols.append(j)
        return rows, cols

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.names_
