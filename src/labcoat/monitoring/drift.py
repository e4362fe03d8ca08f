"""Drift of current data against a model's :class:`~labcoat.monitoring.reference.Reference`.

Per column, the test is chosen as Evidently chooses it by default, from the column's kind and
the reference's rows with a value:

============================  =====================================  ================================
column                        reference <= 1,000 values              reference > 1,000 values
============================  =====================================  ================================
numeric, > 5 distinct values  ``ks``: drift when p < 0.05            ``wasserstein`` / std >= 0.1
numeric <= 5 values, category ``chisquare`` (``z`` for <= 2 values)   ``jensenshannon`` >= 0.1
                              p < 0.05
============================  =====================================  ================================

(distinct values are counted in the reference for numbers, in both samples for categories).
Methods and thresholds can be set per column (:class:`DriftOptions`). PSI is reported for every
column. Tests ignore missing values; a rise of the missing rate is tested on its own (one-sided
two-proportion z-test, and a rise of at least ``missing_min_rise``), as are schema violations:
categories the reference never had and numbers outside its range. The dataset drifts when the
share of drifted columns reaches ``share`` (0.5). Differences from Evidently's tests are listed
in :mod:`labcoat.monitoring.stattests`.

``current`` may be one frame or an iterable of chunks (``labcoat.batch`` reads files in
chunks): each chunk is reduced to counts (:mod:`labcoat.monitoring.sketch`) and dropped, so memory
is bounded by the chunk, and the report is the same as for one frame.

Examples
--------
>>> from labcoat.tasks import infer_schema
>>> from labcoat.monitoring.reference import build_reference
>>> rng = np.random.default_rng(0)
>>> train = pd.DataFrame({"x": rng.normal(size=800), "c": rng.choice(list("abc"), 800),
...                       "y": rng.integers(0, 2, 800)})
>>> ref = build_reference(train, infer_schema(train, "y"))
>>> now = pd.DataFrame({"x": rng.normal(1, 1, 500), "c": rng.choice(list("abc"), 500)})
>>> report = detect_drift(ref, now)
>>> [(c.name, c.method, c.drifted) for c in report.columns]
[('x', 'ks', True), ('c', 'chisquare', False)]
>>> report.share_drifted, report.dataset_drift
(0.5, True)
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.coerce import _num_label
from labcoat.errors import ConfigError, DataError, SchemaError, did_you_mean
from labcoat.monitoring import stattests as st
from labcoat.monitoring.reference import PREDICTION, ColumnReference, Reference, _jsonable
from labcoat.monitoring.sketch import (
    EXACT_ROWS,
    CategoryCounts,
    NumericCounts,
    numeric_values,
    reference_cells,
)

#: Numbers with at most this many distinct reference values are tested as categories.
DISCRETE_VALUES = 5
#: Bins of equal reference mass for numbers: the plots, jensenshannon and chisquare; PSI.
PLOT_BINS, PSI_BINS = 20, 10
#: Categories shown in the plot data; the others are summed as "(other)".
PLOT_CATEGORIES = 20
#: Labels of the categories that stand for several: the rest of a long list, numbers between.
OTHER, OTHER_VALUES = "(other)", "(other values)"
#: The prediction's default test. Its reference is the out-of-fold predictions of the search's
#: fold models, which differ from the final model's by construction (refit on all rows, more
#: trees): on unchanged data (churn, 3,000 rows) the default feature test, Wasserstein ≥ 0.1 σ,
#: flagged a 4-model ensemble (0.109) and k-nearest neighbours (0.22), while PSI stayed at
#: 0.004–0.07 for linear, forest, boosted and ensemble models. PSI ≥ 0.2 is the customary
#: "significant shift" of a score distribution (and of a multiclass label's shares).
PREDICTION_TEST = {"method": "psi", "threshold": 0.2}
_KINDS = {"numeric": ("ks", "wasserstein", "chisquare", "jensenshannon", "psi"),
          "categorical": ("chisquare", "z", "jensenshannon", "psi")}


@dataclass
class DriftOptions:
    """Settings of :func:`detect_drift`.

    ``columns`` sets the test of some columns: ``{"age": {"method": "psi", "threshold": 0.2}}``
    (either key may be left out); ``prediction`` does so for the prediction. Methods: ``ks``,
    ``chisquare``, ``z`` (p-values: drift when below the threshold, default 0.05),
    ``wasserstein``, ``jensenshannon``, ``psi`` (distances: drift when at least the threshold,
    default 0.1).

    Examples
    --------
    >>> DriftOptions(share=0.3, columns={"age": {"method": "psi"}}).share
    0.3
    """

    #: The dataset drifts when the share of drifted columns is at least this.
    share: float = 0.5
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    prediction: dict[str, Any] | None = None
    #: Level of the one-sided test of a rise of the missing rate...
    missing_alpha: float = 0.05
    #: ...and the least rise (current minus reference rate) reported.
    missing_min_rise: float = 0.01


@dataclass
class ColumnDrift:
    """The drift of one column. Shares are of the rows with a value."""

    name: str
    kind: str
    method: str
    #: KS D, chi-squared or z statistic, or the distance; None when a side has no value.
    statistic: float | None
    threshold: float
    p_value: float | None
    drifted: bool
    psi: float | None
    reference_missing: float
    current_missing: float
    missing_rise: bool
    missing_p_value: float
    #: Categories the reference never had, with their share of the current values.
    new_categories: dict[str, float] = field(default_factory=dict)
    #: Numbers only: shares of current values below the reference's minimum and above its maximum.
    out_of_range: dict[str, float] | None = None
    #: ``{"bins": labels, "reference": shares, "current": shares}`` (numbers also ``"edges"``:
    #: the inner bins' bounds; the first and last bins are below and above the reference's range).
    plot: dict[str, Any] = field(default_factory=dict)


@dataclass
class DriftReport:
    """Per-column drift, the dataset verdict and the prediction's drift."""

    columns: list[ColumnDrift]
    share_drifted: float
    dataset_drift: bool
    share_threshold: float
    prediction: ColumnDrift | None
    current_rows: int
    reference_rows: int = 0

    @property
    def drifted(self) -> list[str]:
        """Names of the drifted columns."""
        return [c.name for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return _jsonable(asdict(self))

    def to_frame(self) -> pd.DataFrame:
        """One row per column (and the prediction last): the verdicts without the plot data."""
        rows = [*self.columns, *([self.prediction] if self.prediction else [])]
        return pd.DataFrame([{k: v for k, v in asdict(c).items() if k != "plot"} for c in rows])


def detect_drift(reference: Reference, current: pd.DataFrame | Iterable[pd.DataFrame], *,
                 options: DriftOptions | None = None, predictions: str | None = None) -> DriftReport:
    """Test every profiled column of ``reference`` for drift in ``current`` (a frame, or chunks
    of one; raw values, as for ``predict``), and the prediction when ``predictions`` names the
    column of ``current`` holding it (in the reference's form: see
    :mod:`labcoat.monitoring.reference`). See the module docstring for the tests.
    """
    options = options or DriftOptions()
    methods = _check_options(reference, options, predictions)
    # Keyed by (is the prediction, name): a feature may be called "prediction" too.
    columns = {(False, name): ref for name, ref in reference.columns.items()}
    if predictions is not None and reference.prediction is not None:
        columns[(True, PREDICTION)] = reference.prediction
    sources = {key: (predictions if key[0] else key[1]) for key in columns}
    counters = {key: _counter(ref) for key, ref in columns.items()}
    rows = 0
    for chunk in [current] if isinstance(current, pd.DataFrame) else current:
        absent = [source for source in sources.values() if source not in chunk.columns]
        if absent:
            raise SchemaError(f"{len(absent)} column(s) of the reference are missing from the current data: "
                              f"{', '.join(repr(a) for a in absent)}. Add them (values may be empty).")
        rows += len(chunk)
        for key, ref in columns.items():
            s = chunk[sources[key]]
            counter = counters[key]  # numeric counts for a numeric column (see _counter)
            if isinstance(counter, NumericCounts):
                counter.add(numeric_values(s, ref.transform))
            else:
                counter.add(s)
    if rows == 0:
        raise DataError("The current data has no rows: there is nothing to compare with the reference.")
    results = {key: column_drift(ref, counters[key], (options.prediction or PREDICTION_TEST) if key[0]
                                 else methods.get(key[1], {}), options) for key, ref in columns.items()}
    prediction = results.pop((True, PREDICTION), None)
    tested = list(results.values())
    share = sum(c.drifted for c in tested) / len(tested) if tested else 0.0
    return DriftReport(columns=tested, share_drifted=share, dataset_drift=bool(tested) and share >= options.share,
                       share_threshold=options.share, prediction=prediction, current_rows=rows,
                       reference_rows=reference.rows)


def _counter(ref: ColumnReference) -> NumericCounts | CategoryCounts:
    if ref.kind == "numeric":
        return NumericCounts(np.asarray(ref.edges or [0.0], dtype=np.float64))
    return CategoryCounts(ref.labels)


# ---------------------------------------------------------------------- one column
def column_drift(ref: ColumnReference, counter: NumericCounts | CategoryCounts, override: dict[str, Any],
                 options: DriftOptions) -> ColumnDrift:
    """The drift of one column from the reference's summary and the current counts."""
    if isinstance(counter, NumericCounts) and not ref.edges:  # no value in the reference: no test
        test = _categories([], np.zeros(0), np.zeros(0), set(), 0, override)
    elif isinstance(counter, NumericCounts) and ref.n_unique and ref.n_unique > DISCRETE_VALUES:
        test = _numeric(ref, counter, override)
    elif isinstance(counter, NumericCounts):
        test = _categories(*_discrete(ref, counter), ref.present, override)
        test["out_of_range"] = _out_of_range(counter)
    else:
        test = _categories(*_categorical(ref, counter), ref.present, override)
    p_missing = st.missing_rise(ref.missing, ref.rows, counter.missing, counter.rows)
    current_missing = counter.missing / counter.rows
    rise = p_missing < options.missing_alpha and current_missing - ref.missing_rate >= options.missing_min_rise
    return ColumnDrift(name=ref.name, kind=ref.kind, reference_missing=ref.missing_rate,
                       current_missing=current_missing, missing_rise=bool(rise), missing_p_value=p_missing,
                       **test)


def _numeric(ref: ColumnReference, counter: NumericCounts, override: dict[str, Any]) -> dict[str, Any]:
    edges = np.asarray(ref.edges, dtype=np.float64)
    rc, ro = reference_cells(edges, ref.point_counts or [], ref.open_counts or [], ref.open_centers)
    cc, co = counter.counts, counter.offsets
    method = override.get("method") or ("ks" if ref.present <= EXACT_ROWS else "wasserstein")
    threshold = float(override.get("threshold", st.DEFAULT_THRESHOLD[method]))
    plot_starts, plot_edges = _quantile_bins(rc, edges, PLOT_BINS)
    out: dict[str, Any] = {"method": method, "threshold": threshold, "statistic": None, "p_value": None,
                           "drifted": False, "psi": None, "out_of_range": _out_of_range(counter)}
    if counter.present and ref.present:
        if method == "ks":
            out["statistic"], out["p_value"] = st.ks(rc, cc)
        elif method == "wasserstein":
            out["statistic"] = st.wasserstein(edges, rc, ro, cc, co, ref.std or 0.0)
        else:
            out["statistic"], out["p_value"] = _binned(method, np.add.reduceat(rc, plot_starts),
                                                       np.add.reduceat(cc, plot_starts))
        psi_starts, _ = _quantile_bins(rc, edges, PSI_BINS)
        out["psi"] = st.psi(np.add.reduceat(rc, psi_starts), np.add.reduceat(cc, psi_starts))
        out["drifted"] = st.is_drift(method, out["statistic"], out["p_value"], threshold)
    out["plot"] = {"bins": _bin_labels(plot_edges), "edges": [float(e) for e in plot_edges],
                   "reference": _shares(np.add.reduceat(rc, plot_starts)),
                   "current": _shares(np.add.reduceat(cc, plot_starts))}
    return out


def _quantile_bins(ref_cells: np.ndarray, edges: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Start cells of ``bins`` bins of about equal reference mass, plus one below the first edge
    and one above the last (for ``np.add.reduceat``), and the inner bins' bounds."""
    k = len(edges)
    through_point = np.cumsum(ref_cells)[1::2] / max(ref_cells.sum(), 1)
    cuts = np.unique(np.searchsorted(through_point, np.arange(1, bins) / bins - 1e-9, side="left"))
    cuts = cuts[cuts < k - 1]
    starts = np.concatenate([[0, 1], 2 * cuts + 2, [2 * k]]).astype(np.intp)
    return starts, np.concatenate([[edges[0]], edges[cuts], [edges[-1]]])


def _binned(method: str, r: np.ndarray, c: np.ndarray) -> tuple[float, float | None]:
    """A test on counts over the same bins or categories: its statistic and p-value (None for
    the distances)."""
    if method == "chisquare":
        return st.chisquare(r, c)
    if method == "z":
        return st.z_proportions(r, c)
    return (st.jensenshannon(r, c) if method == "jensenshannon" else st.psi(r, c)), None


def _bin_labels(edges: np.ndarray) -> list[str]:
    f = [f"{e:.4g}" for e in edges]
    inner = [f"[{f[0]}, {f[1]}]"] + [f"({a}, {b}]" for a, b in itertools.pairwise(f[1:])]
    return [f"< {f[0]}", *inner[:len(edges) - 1], f"> {f[-1]}"]


def _out_of_range(counter: NumericCounts) -> dict[str, float]:
    n = max(counter.present, 1)
    return {"below": float(counter.counts[0] / n), "above": float(counter.counts[-1] / n)}


def _discrete(ref: ColumnReference, counter: NumericCounts) -> tuple[list[str], np.ndarray, np.ndarray, set[str]]:
    """Numbers with few values as categories: one per reference value, the rest as one more."""
    rc, _ = reference_cells(np.asarray(ref.edges), ref.point_counts or [], ref.open_counts or [], None)
    labels = [_num_label(e) for e in ref.edges or []]
    r, c = rc[1::2], counter.counts[1::2]
    other = int(counter.counts.sum() - c.sum())
    if other:
        labels, r, c = [*labels, OTHER_VALUES], np.append(r, 0), np.append(c, other)
    return labels, r, c, {OTHER_VALUES}


def _categorical(ref: ColumnReference, counter: CategoryCounts) -> tuple[list[str], np.ndarray, np.ndarray, set[str]]:
    """Reference and current counts over the reference's categories and the new ones (or, when
    the reference kept only its most frequent categories, one more for all the others)."""
    known = ref.categories or {}
    cur = counter.as_dict()
    labels = list(known)
    r = list(known.values())
    c = [cur.get(k, 0) for k in labels]
    if ref.other > 0:  # new and rare categories cannot be told apart
        labels.append(OTHER)
        r.append(ref.other)
        c.append(sum(cur.values()) - sum(c))
        not_new = {OTHER}
    else:
        fresh = [k for k in cur if k not in known]
        labels += fresh
        r += [0] * len(fresh)
        c += [cur[k] for k in fresh]
        not_new = set()
    return labels, np.asarray(r, dtype=np.float64), np.asarray(c, dtype=np.float64), not_new


def _categories(labels: list[str], r: np.ndarray, c: np.ndarray, not_new: set[str], ref_present: int,
                override: dict[str, Any]) -> dict[str, Any]:
    keep = (r + c) > 0
    order = sorted((label, i) for i, label in enumerate(labels) if keep[i])
    labels = [label for label, _ in order]
    index = np.array([i for _, i in order], dtype=np.intp)
    r, c = r[index].astype(np.float64), c[index].astype(np.float64)
    method = override.get("method") or (
        ("chisquare" if len(labels) > 2 else "z") if ref_present <= EXACT_ROWS else "jensenshannon")
    threshold = float(override.get("threshold", st.DEFAULT_THRESHOLD[method]))
    out: dict[str, Any] = {"method": method, "threshold": threshold, "statistic": None, "p_value": None,
                           "drifted": False, "psi": None, "out_of_range": None}
    if r.sum() and c.sum():
        out["statistic"], out["p_value"] = _binned(method, r, c)
        out["psi"] = st.psi(r, c)
        out["drifted"] = st.is_drift(method, out["statistic"], out["p_value"], threshold)
    total = max(c.sum(), 1.0)
    out["new_categories"] = {label: float(c[i] / total) for i, label in enumerate(labels)
                             if r[i] == 0 and c[i] > 0 and label not in not_new}
    out["plot"] = _category_plot(labels, r, c)
    return out


def _category_plot(labels: list[str], r: np.ndarray, c: np.ndarray) -> dict[str, Any]:
    """Shares of the ``PLOT_CATEGORIES`` categories largest on either side, the rest summed."""
    rs, cs = r / max(r.sum(), 1), c / max(c.sum(), 1)
    top = np.sort(np.argsort(-np.maximum(rs, cs), kind="stable")[:PLOT_CATEGORIES])
    rest = np.setdiff1d(np.arange(len(labels)), top)
    bins, ref_shares, cur_shares = [labels[i] for i in top], rs[top].tolist(), cs[top].tolist()
    if len(rest):
        bins.append(OTHER)
        ref_shares.append(float(rs[rest].sum()))
        cur_shares.append(float(cs[rest].sum()))
    return {"bins": bins, "reference": ref_shares, "current": cur_shares}


def _shares(counts: np.ndarray) -> list[float]:
    return (counts / max(counts.sum(), 1)).tolist()


# ---------------------------------------------------------------------- options
def _check_options(reference: Reference, options: DriftOptions, predictions: str | None) -> dict[str, dict[str, Any]]:
    """Validated per-column settings (the prediction's is checked, and read from ``options``)."""
    if not 0 < options.share <= 1:
        raise ConfigError(f"DriftOptions.share must be in (0, 1], got {options.share!r}.")
    if predictions is not None and reference.prediction is None:
        raise ConfigError("predictions= was given but this reference has no prediction distribution "
                          "(it was built without predictions).")
    settings = dict(options.columns)
    unknown = [name for name in settings if name not in reference.columns]
    if unknown:
        name = unknown[0]
        why = (f" It was not profiled ({reference.skipped[name]})." if name in reference.skipped
               else did_you_mean(name, reference.columns))
        raise ConfigError(f"DriftOptions.columns names an unknown column '{name}'.{why} Columns: "
                          f"{', '.join(repr(c) for c in reference.columns)}.")
    if options.prediction and reference.prediction is not None:
        _check_setting(PREDICTION, reference.prediction, options.prediction)
    return {name: _check_setting(name, reference.columns[name], setting) for name, setting in settings.items()}


def _check_setting(name: str, ref: ColumnReference, setting: dict[str, Any]) -> dict[str, Any]:
    extra = set(setting) - {"method", "threshold"}
    if extra:
        raise ConfigError(f"Drift setting of column '{name}' has unknown key(s) {sorted(extra)}; "
                          "use 'method' and 'threshold'.")
    discrete = ref.kind == "numeric" and (ref.n_unique or 0) <= DISCRETE_VALUES
    valid = _KINDS["categorical" if discrete else ref.kind]
    method = setting.get("method")
    if method is not None and method not in valid:
        known = "" if method in st.METHODS else f" (not a method{did_you_mean(str(method), st.METHODS)})"
        raise ConfigError(f"Drift method {method!r} for {ref.kind} column '{name}' is not available{known}. "
                          f"Valid methods for it: {', '.join(valid)}.")
    threshold = setting.get("threshold")
    if threshold is not None and not (isinstance(threshold, (int, float)) and threshold > 0):
        raise ConfigError(f"Drift threshold of column '{name}' must be a positive number, got {threshold!r}.")
    return dict(setting)
