"""The PyOD detectors labcoat tries, and each fitted one's scores as ranks against training.

Every detector is PyOD's with its defaults, except where a default does not scale: k-nearest
neighbours, LOF and the one-class SVM are fitted on a sample of at most :data:`SAMPLE_ROWS`
rows (their cost grows with the square of the rows), and scored against it. A fitted detector
turns raw scores into ranks: the share of training rows scoring at most as high (0..1, the
same scale for every detector, which is what rank averaging needs).

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(300, 3))
>>> fitted = fit_detector("hbos", X, seed=0)
>>> ranks = fitted.ranks(np.vstack([X[:1], [[8.0, 8.0, 8.0]]]))
>>> bool(ranks[1] == 1.0), bool(0 <= ranks[0] < 1)
(True, True)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: What to install when PyOD is missing.
EXTRA = "Anomaly detection needs PyOD: pip install 'labcoat[anomaly]'."


def require_pyod() -> None:
    """A :class:`~labcoat.errors.ConfigError` naming the extra when PyOD is not installed."""
    from labcoat.errors import ConfigError

    try:
        import pyod  # noqa: F401
    except ImportError as error:
        raise ConfigError(EXTRA) from error


#: Rows the quadratic detectors are fitted on at most (a notice says so when data is larger).
SAMPLE_ROWS = 5_000
#: Rows the one-class SVM is fitted on at most.
SVM_ROWS = 2_000


def _iforest(seed: int) -> Any:
    from labcoat.tasks.anomaly.forest import CompiledIForest

    return CompiledIForest(seed)


def _ecod(seed: int) -> Any:
    return FrozenECDF("ecod")


def _copod(seed: int) -> Any:
    return FrozenECDF("copod")


def _hbos(seed: int) -> Any:
    return VectorHBOS()


def _knn(seed: int) -> Any:
    from pyod.models.knn import KNN

    return KNN()


def _lof(seed: int) -> Any:
    from pyod.models.lof import LOF

    return LOF()


def _ocsvm(seed: int) -> Any:
    from pyod.models.ocsvm import OCSVM

    return OCSVM()


def _pca(seed: int) -> Any:
    return RankedPCA(seed)


@dataclass(frozen=True)
class Detector:
    """One PyOD detector: its name, how to build it, and the most rows it is fitted on."""

    name: str
    title: str
    build: Callable[[int], Any]
    max_rows: int | None = None


#: The detectors, cheapest first (the order they are fitted in while the budget lasts).
DETECTORS: dict[str, Detector] = {d.name: d for d in (
    Detector("copod", "COPOD (copulas)", _copod),
    Detector("hbos", "HBOS (histograms)", _hbos),
    Detector("pca", "PCA reconstruction", _pca),
    Detector("ecod", "ECOD (empirical cumulative distributions)", _ecod),
    Detector("iforest", "isolation forest", _iforest),
    Detector("knn", "k-nearest neighbours", _knn, SAMPLE_ROWS),
    Detector("lof", "local outlier factor", _lof, SAMPLE_ROWS),
    Detector("ocsvm", "one-class SVM", _ocsvm, SVM_ROWS),
)}


@dataclass
class FittedDetector:
    """A fitted PyOD detector and its training scores (sorted), to rank new rows against."""

    name: str
    estimator: Any
    reference: np.ndarray  #: the training rows' raw scores, sorted
    rows: int  #: rows it was fitted on
    seconds: float

    def raw(self, X: np.ndarray) -> np.ndarray:
        """PyOD's outlier scores (higher = more unusual)."""
        with np.errstate(all="ignore"):  # PyOD's PCA divides by components of zero variance
            return np.asarray(self.estimator.decision_function(X), dtype=np.float64)

    def ranks(self, X: np.ndarray) -> np.ndarray:
        """The share of training rows whose score is at most each row's (0..1)."""
        return to_ranks(self.raw(X), self.reference)


def to_ranks(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The share of the sorted ``reference`` at most each of ``scores`` (NaN counts as ordinary).

    >>> to_ranks(np.array([0.5, 3.0, -1.0]), np.array([0.0, 1.0, 2.0, 3.0])).tolist()
    [0.25, 1.0, 0.0]
    """
    scores = np.nan_to_num(scores, nan=-np.inf)
    return np.searchsorted(reference, scores, side="right") / len(reference)


def fit_detector(name: str, X: np.ndarray, *, seed: int, rows: np.ndarray | None = None) -> FittedDetector:
    """Fit detector ``name`` on ``X`` (on ``rows`` of it when given, else on a seeded sample
    when it has a row limit) and score every row of ``X`` as its reference."""
    import time
    import warnings

    detector = DETECTORS[name]
    started = time.monotonic()
    if rows is None and detector.max_rows is not None and len(X) > detector.max_rows:
        rows = np.random.default_rng(seed).choice(len(X), detector.max_rows, replace=False)
    fitted_on = X if rows is None else X[rows]
    estimator = detector.build(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyOD's and scikit-learn's warnings about defaults
        estimator.fit(fitted_on)
        scores = (np.asarray(estimator.decision_scores_, dtype=np.float64) if rows is None
                  else np.asarray(estimator.decision_function(X), dtype=np.float64))
    reference = np.sort(np.nan_to_num(scores, nan=-np.inf))
    return FittedDetector(name, estimator, reference, len(fitted_on), time.monotonic() - started)


#: Rows ECOD and COPOD score at a time.
ECDF_CHUNK = 4_096


class FrozenECDF:
    """ECOD or COPOD (PyOD's training scores), scoring new rows against the training rows only.

    PyOD's ``decision_function`` of both appends the new rows to the training rows and
    recomputes the distributions, so a row's score depends on the batch it comes in (one row
    alone and the same row among 100,000 others differ). Here each new row is placed in the
    training columns' distributions as if it came alone, which is what PyOD gives for a batch of
    one: the same formulas, batch-independent, and no copy of the training rows grows.

    >>> X = np.random.default_rng(1).normal(size=(200, 2))
    >>> from pyod.models.ecod import ECOD
    >>> pyod, ours = ECOD().fit(X), FrozenECDF("ecod").fit(X)
    >>> bool(np.isclose(pyod.decision_function(X[:1] + 3)[0], ours.decision_function(X[:1] + 3)[0]))
    True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def fit(self, X: np.ndarray) -> "FrozenECDF":
        from scipy.stats import skew

        self.n_ = len(X)
        self.values_, self.below_ = [], []  # per column: distinct values, rows below each (cumulative)
        for j in range(X.shape[1]):
            values, counts = np.unique(X[:, j], return_counts=True)
            self.values_.append(values)
            self.below_.append(np.concatenate([[0], np.cumsum(counts)]))
        with np.errstate(all="ignore"):
            self.skew_sign_ = np.sign(np.nan_to_num(skew(X, axis=0)))  # a constant column: no skew (PyOD: NaN)
        self.decision_scores_ = self.decision_function(X)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        # a few thousand rows at a time: the dozen (rows × columns) temporaries stay in cache
        # instead of being page-faulted in afresh (`model.score` of 100,000 rows × 30 columns, first
        # call: 2.8 s → 0.8 s)
        return np.concatenate([self._scores(X[first:first + ECDF_CHUNK])
                               for first in range(0, len(X), ECDF_CHUNK)]) if len(X) else np.zeros(0)

    def _scores(self, X: np.ndarray) -> np.ndarray:
        n = self.n_
        left = np.empty(X.shape)
        right = np.empty(X.shape)
        for j, (values, below) in enumerate(zip(self.values_, self.below_)):
            # training rows <= x and >= x, on the distinct values (a one-hot column has two)
            left[:, j] = below[np.searchsorted(values, X[:, j], side="right")]
            right[:, j] = n - below[np.searchsorted(values, X[:, j], side="left")]
        left, right = (left + 1) / (n + 1), (right + 1) / (n + 1)
        u_left, u_right = -np.log(left), -np.log(right)
        u_skew = u_left * -np.sign(self.skew_sign_ - 1) + u_right * np.sign(self.skew_sign_ + 1)
        if self.kind == "ecod":
            out = np.maximum(np.maximum(u_left, u_right), u_skew)
        else:
            out = np.maximum(u_skew, (u_left + u_right) / 2)
        return np.asarray(out.sum(axis=1), dtype=np.float64)


class VectorHBOS:
    """PyOD's HBOS (10 equal-width bins per column, ``alpha=0.1``, ``tol=0.5``: its defaults and
    formulas), scored with numpy instead of PyOD's numba loop, which compiles for ~5 s in every
    new process (a CLI call, a service start) before scoring its first row.

    >>> X = np.random.default_rng(2).normal(size=(300, 3))
    >>> hbos = VectorHBOS().fit(X)
    >>> bool(hbos.decision_function(np.array([[9.0, 9.0, 9.0]]))[0] > hbos.decision_scores_.max())
    True
    """

    def __init__(self, n_bins: int = 10, alpha: float = 0.1, tol: float = 0.5) -> None:
        self.n_bins, self.alpha, self.tol = n_bins, alpha, tol

    def fit(self, X: np.ndarray) -> "VectorHBOS":
        self.hist_ = np.zeros((self.n_bins, X.shape[1]))
        self.bin_edges_ = np.zeros((self.n_bins + 1, X.shape[1]))
        for i in range(X.shape[1]):
            self.hist_[:, i], self.bin_edges_[:, i] = np.histogram(X[:, i], bins=self.n_bins, density=True)
        self.decision_scores_ = self.decision_function(X)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        total = np.zeros(len(X))
        for i in range(X.shape[1]):
            edges, logs = self.bin_edges_[:, i], np.log2(self.hist_[:, i] + self.alpha)
            x = X[:, i]
            index = np.digitize(x, edges, right=True)
            inside = np.clip(index - 1, 0, self.n_bins - 1)
            score = logs[inside]
            low, high = index == 0, index == self.n_bins + 1
            near_low = (edges[0] - x) <= (edges[1] - edges[0]) * self.tol
            near_high = (x - edges[-1]) <= (edges[-1] - edges[-2]) * self.tol
            score = np.where(low, np.where(near_low, logs[0], logs.min()), score)
            score = np.where(high, np.where(near_high, logs[-1], logs.min()), score)
            total += score
        return -total


class RankedPCA:
    """PyOD's PCA on the components the data has: as many as the rank of the training matrix
    (one-hot columns and missing indicators are linearly dependent; PyOD's default keeps every
    component and divides by the zero variance of the extra ones, which makes every score infinite)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, X: np.ndarray) -> "RankedPCA":
        from pyod.models.pca import PCA

        sample = X[np.random.default_rng(self.seed).choice(len(X), min(len(X), 5_000), replace=False)]
        rank = int(np.linalg.matrix_rank(sample - sample.mean(axis=0)))
        self.model_ = PCA(n_components=max(1, min(rank, X.shape[1]) - 0), random_state=self.seed)
        with np.errstate(all="ignore"):
            self.model_.fit(X)
        self.decision_scores_ = self.model_.decision_scores_
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self.model_.decision_function(X), dtype=np.float64)
