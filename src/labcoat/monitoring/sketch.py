"""Mergeable summaries of one column: the reference's quantile sketch and the counts a window of
current data is reduced to, chunk by chunk.

A numeric reference is a sorted array of **edges** ``e_0 < ... < e_{K-1}`` (all distinct values
when the reference has at most :data:`EXACT_ROWS` values or :data:`SKETCH_POINTS` distinct ones;
otherwise its quantiles at 1% steps, inner ones rounded to 6 significant digits, ``e_0`` and
``e_{K-1}`` the exact minimum and maximum). The edges cut the line into ``2K + 1`` **cells**::

    cell 0: x < e_0 | cell 2k+1: x == e_k | cell 2k: e_{k-1} < x < e_k | cell 2K: x > e_{K-1}

A chunk of values becomes, per cell, a count and the sum of its values' offsets from the cell's
anchor (its left edge; ``e_0`` for cell 0). Counts and sums add up over chunks, so memory does
not grow with the window, and they are all the tests need: with exact edges both empirical CDFs
are known at every cell end, so the KS statistic is exact; the offsets make the integral of each
CDF over each cell exact, so the Wasserstein distance is exact except in cells where the two CDFs
cross (see :mod:`labcoat.monitoring.stattests`).

Values are read as the model reads them (see ``Schema.prepare``): numbers as floats (non-finite
ones count as missing), datetimes as seconds since 1970, text as its length in characters;
categories as strings (numbers labelled ``3`` or ``2.5``), booleans as ``"false"``/``"true"``.
Categories are counted before they are converted, so only distinct values are touched.

Examples
--------
>>> sketch = NumericCounts(np.array([1.0, 2.0, 3.0]))
>>> sketch.add(np.array([0.5, 1.0, 1.5, 3.0, np.nan, np.inf]))
>>> sketch.counts.tolist(), sketch.missing
([1, 1, 1, 0, 0, 1, 0], 2)
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.coerce import _FALSE, _TRUE, _num_label

#: References with at most this many values keep them all (KS is then exact).
EXACT_ROWS = 1000
#: Quantiles kept for larger references (1% steps); fewer distinct values are kept exactly.
SKETCH_POINTS = 101
#: Categories kept per column (the most frequent); the rest are counted together as "other".
MAX_CATEGORIES = 200
#: Significant digits of the inner quantile edges (counts are taken against the rounded edges).
DIGITS = 6
_TICKS_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


# ---------------------------------------------------------------------- reading values
def numeric_values(s: pd.Series, transform: str | None = None) -> np.ndarray:
    """``s`` as float64, NaN where missing: numbers, ``"epoch_seconds"`` of datetimes or the
    ``"length"`` of text. (Infinities are kept here; the counts treat them as missing.)

    Examples
    --------
    >>> numeric_values(pd.Series(["1.5", None, "x"])).tolist()
    [1.5, nan, nan]
    >>> numeric_values(pd.Series(["ab", None]), "length").tolist()
    [2.0, nan]
    >>> numeric_values(pd.Series(["1970-01-02", "9999-12-31", None]), "epoch_seconds").tolist()
    [86400.0, 253402214400.0, nan]
    """
    if transform == "length":
        values = s.astype("str").str.len().to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(s.isna().to_numpy(), np.nan, values)
    if transform == "epoch_seconds":
        return _seconds(s)
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _seconds(s: pd.Series) -> np.ndarray:
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = pd.to_datetime(s, errors="coerce", format="mixed", utc=True)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    times = s.to_numpy()  # datetime64 in pandas' unit: no conversion, so years 1 to 9999 fit
    unit, _ = np.datetime_data(times.dtype)
    ticks = times.view(np.int64).astype(np.float64) / _TICKS_PER_SECOND[unit]
    return np.where(np.isnat(times), np.nan, ticks)


def category_counts(s: pd.Series, labels: list[Any] | None = None) -> tuple[pd.Series, int]:
    """Counts of ``s``'s categories (as strings, most frequent first) and its missing count.
    ``labels`` are a boolean column's ``[false, true]`` labels: values read as ``"false"``/``"true"``.

    Examples
    --------
    >>> counts, missing = category_counts(pd.Series(["a", "b", "a", None]))
    >>> counts.to_dict(), missing
    ({'a': 2, 'b': 1}, 1)
    >>> category_counts(pd.Series(["Yes", "no", "yes"]), ["no", "yes"])[0].to_dict()
    {'true': 2, 'false': 1}
    """
    raw = s.value_counts(dropna=True, sort=False)
    missing = int(len(s) - raw.sum())
    if labels is not None or pd.api.types.is_bool_dtype(s.dtype):
        names = [_boolean_label(k, labels) for k in raw.index]
    elif pd.api.types.is_numeric_dtype(s.dtype):
        names = [_num_label(float(k)) for k in raw.index]
    else:
        names = [str(k) for k in raw.index]
    counts = pd.Series(raw.to_numpy(dtype=np.int64), index=pd.Index(names, dtype=object))
    if counts.index.has_duplicates:
        counts = counts.groupby(level=0, sort=False).sum()
    return counts.sort_values(ascending=False, kind="stable"), missing


def _boolean_label(value: Any, labels: list[Any] | None) -> str:
    text = str(value).strip().lower()
    false, true = ([str(v).strip().lower() for v in labels] if labels else ["false", "true"])
    if text in _TRUE or text == true:
        return "true"
    if text in _FALSE or text == false:
        return "false"
    return str(value)


# ---------------------------------------------------------------------- numeric cells
def anchors(edges: np.ndarray) -> np.ndarray:
    """Left edge of every cell (``e_0`` for cell 0, whose offsets are then negative)."""
    k = len(edges)
    out = np.empty(2 * k + 1)
    out[0] = edges[0]
    out[1::2] = edges
    out[2:2 * k:2] = edges[:-1]
    out[2 * k] = edges[-1]
    return out


def cells(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cell index of each value (see the module docstring); NaN and infinities get ``2K + 1``."""
    k = len(edges)
    index = np.searchsorted(edges, values, side="left")
    cell = index + index
    cell += np.append(edges, np.inf)[index] == values
    bad = ~np.isfinite(values)
    if bad.any():
        cell[bad] = 2 * k + 1
    return cell


class NumericCounts:
    """Counts and anchor offsets per cell of ``edges``, and the missing count (NaN and
    infinities), over every chunk :meth:`add` has seen."""

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self._anchors = anchors(self.edges)
        size = 2 * len(self.edges) + 1
        self.counts = np.zeros(size, dtype=np.int64)
        self.offsets = np.zeros(size)
        self.rows = self.missing = 0

    def add(self, values: np.ndarray) -> None:
        """Add a chunk of values (NaN = missing)."""
        size = len(self.counts)
        cell = cells(values, self.edges)
        counts = np.bincount(cell, minlength=size + 1)
        # Sums per cell minus count x anchor: no gather of anchors per value.
        sums = np.bincount(cell, weights=values, minlength=size + 1)[:size]
        self.counts += counts[:size]
        self.offsets += sums - counts[:size] * self._anchors
        self.rows += len(values)
        self.missing += int(counts[size])

    @property
    def present(self) -> int:
        return self.rows - self.missing


class CategoryCounts:
    """Category counts and missing count over every chunk :meth:`add` has seen."""

    def __init__(self, labels: list[Any] | None = None) -> None:
        self.labels = labels
        self._counts: dict[str, int] = {}
        self.rows = self.missing = 0

    def add(self, s: pd.Series) -> None:
        counts, missing = category_counts(s, self.labels)
        merged = self._counts
        for key, n in zip(counts.index.tolist(), counts.tolist()):
            merged[key] = merged.get(key, 0) + n
        self.rows += len(s)
        self.missing += missing

    def as_dict(self) -> dict[str, int]:
        """Counts by category, in order of first appearance."""
        return self._counts

    @property
    def counts(self) -> pd.Series:
        """Counts by category, most frequent first."""
        out = pd.Series(self._counts, dtype=np.int64, index=pd.Index(list(self._counts), dtype=object))
        return out.sort_values(ascending=False, kind="stable")

    @property
    def present(self) -> int:
        return self.rows - self.missing


# ---------------------------------------------------------------------- the reference's sketch
def numeric_sketch(values: np.ndarray) -> dict[str, Any]:
    """The reference summary of numeric ``values`` (NaN = missing): statistics, edges and the
    counts per cell; see the module docstring.

    Examples
    --------
    >>> out = numeric_sketch(np.array([1.0, 2.0, 2.0, np.nan]))
    >>> out["edges"], out["point_counts"], out["exact"]
    ([1.0, 2.0], [1, 2], True)
    """
    x = np.sort(values[np.isfinite(values)])
    n = len(x)
    out: dict[str, Any] = {"missing": int(len(values) - n)}
    if not n:
        return {**out, "minimum": None, "maximum": None, "mean": None, "std": None, "n_unique": 0,
                "exact": True, "edges": [], "point_counts": [], "open_counts": [], "open_centers": None}
    distinct = np.concatenate([[True], x[1:] != x[:-1]])
    n_unique = int(distinct.sum())
    exact = n <= EXACT_ROWS or n_unique <= SKETCH_POINTS
    if exact:
        edges = x[distinct]
    else:
        q = np.quantile(x, np.linspace(0, 1, SKETCH_POINTS))
        inner = np.array([float(f"{v:.{DIGITS}g}") for v in q[1:-1]])
        edges = np.unique(np.concatenate([[x[0]], inner[(inner > x[0]) & (inner < x[-1])], [x[-1]]]))
    summary = NumericCounts(edges)
    summary.add(x)
    k = len(edges)
    open_counts = summary.counts[2:2 * k:2]
    centers = None
    if not exact:
        width = np.diff(edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = summary.offsets[2:2 * k:2] / (open_counts * width)
        centers = [round(float(c), 4) if np.isfinite(c) else 0.5 for c in share]
    return {**out, "minimum": float(x[0]), "maximum": float(x[-1]), "mean": float(x.mean()),
            "std": float(x.std()), "n_unique": n_unique, "exact": bool(exact),
            "edges": [float(e) for e in edges], "point_counts": summary.counts[1::2].tolist(),
            "open_counts": open_counts.tolist(), "open_centers": centers}


def reference_cells(edges: np.ndarray, point_counts: list[int], open_counts: list[int],
                    open_centers: list[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """The reference's counts and offsets per cell, rebuilt from its stored sketch (offsets of
    open cells from their stored mean position; exact references have none)."""
    k = len(edges)
    counts = np.zeros(2 * k + 1, dtype=np.int64)
    counts[1::2] = point_counts
    counts[2:2 * k:2] = open_counts
    offsets = np.zeros(2 * k + 1)
    if open_centers is not None and k > 1:
        offsets[2:2 * k:2] = np.asarray(open_centers) * np.diff(edges) * np.asarray(open_counts)
    return counts, offsets
