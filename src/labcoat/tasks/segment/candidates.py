"""The clusterers a segmentation chooses from, behind one shape (:class:`Clustering`): k-means
and Gaussian mixtures for a given number of segments, HDBSCAN finding its own (its noise rows
are given to the nearest segment: the segment of most of their 5 nearest clustered rows, so
every row gets one, and the noise share is reported).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 0.3, (50, 2)), rng.normal(5, 0.3, (50, 2))])
>>> fitted = fit_clustering("kmeans", X, 2, seed=0)
>>> fitted.k, len(set(fitted.predict(X[:5]).tolist()) | set(fitted.predict(X[-5:]).tolist()))
(2, 2)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: The candidates, in the order they are tried.
CANDIDATES = ("kmeans", "hdbscan", "gmm")
#: Mixtures with more dimensions than this use diagonal covariances (full ones would need too
#: many rows per segment to estimate).
FULL_COVARIANCE_MAX = 12
#: The floor of a mixture's variances, on standardised columns (one-hot columns of a segment
#: that holds one category only would otherwise have none).
REG_COVAR = 1e-2
#: Predictions for at most this many rows run on one thread.
SMALL = 10_000


@dataclass
class Clustering:
    """A fitted clusterer: ``labels`` of the rows it was fitted on (0..k-1, every row one),
    ``predict`` for new rows in the same space."""

    name: str
    k: int
    estimator: Any  #: KMeans, GaussianMixture, or (HDBSCAN) the nearest-neighbour assigner
    labels: np.ndarray
    bic: float | None = None
    noise_share: float | None = None

    def predict(self, X: np.ndarray) -> np.ndarray:
        if len(X) > SMALL:
            return np.asarray(self.estimator.predict(X), dtype=int)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # thread pools only slow a few rows down
            return np.asarray(self.estimator.predict(X), dtype=int)


class NoStructure(Exception):
    """HDBSCAN found fewer than two segments."""


def fit_clustering(name: str, X: np.ndarray, k: int | None, *, seed: int) -> Clustering:
    """Fit candidate ``name`` on ``X`` with ``k`` segments (HDBSCAN: found, ``k`` ignored)."""
    if name == "kmeans":
        from sklearn.cluster import KMeans

        assert k is not None
        km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(X)
        return Clustering(name, k, km, np.asarray(km.labels_, dtype=int))
    if name == "gmm":
        from sklearn.mixture import GaussianMixture

        assert k is not None
        kind = "full" if X.shape[1] <= FULL_COVARIANCE_MAX else "diag"
        gm = GaussianMixture(n_components=k, covariance_type=kind, reg_covar=REG_COVAR, n_init=1,
                             random_state=seed, max_iter=200).fit(X)
        return Clustering(name, k, gm, np.asarray(gm.predict(X), dtype=int), bic=float(gm.bic(X)))
    if name == "hdbscan":
        return _hdbscan(X)
    raise ValueError(f"Unknown segmentation candidate {name!r}; expected one of {CANDIDATES}.")


def min_cluster_size(n: int) -> int:
    """HDBSCAN's smallest segment: 2% of the rows, at least 10.

    >>> min_cluster_size(300), min_cluster_size(5000)
    (10, 100)
    """
    return max(10, n // 50)


def _hdbscan(X: np.ndarray) -> Clustering:
    from sklearn.cluster import HDBSCAN
    from sklearn.neighbors import KNeighborsClassifier

    raw = np.asarray(HDBSCAN(min_cluster_size=min_cluster_size(len(X)), copy=True).fit_predict(X), dtype=int)
    found = sorted(set(raw.tolist()) - {-1})
    if len(found) < 2:
        raise NoStructure(f"HDBSCAN found {len(found)} segment(s) ({(raw == -1).mean():.0%} of the rows noise)")
    clustered = raw >= 0
    assigner = KNeighborsClassifier(n_neighbors=min(5, int(clustered.sum()))).fit(X[clustered], raw[clustered])
    labels = raw.copy()
    if (~clustered).any():
        labels[~clustered] = assigner.predict(X[~clustered])
    return Clustering("hdbscan", len(found), assigner, labels, noise_share=float((~clustered).mean()))
