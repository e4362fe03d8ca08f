"""A score learned from a few labels: how much nearer a row is to the nearest labelled anomaly
than to the nearest labelled normal row, in the detectors' input space.

``score = d_normal / (d_anomaly + d_normal)`` (0..1; 1 = on a labelled anomaly), the ratio a
nearest-neighbour classifier with one neighbour per class reads. It needs no fitting beyond
keeping the labelled rows, so it can be used from one labelled anomaly, where a classifier or a
reweighing of the detectors has too little to learn from: anomalies of one kind tend to sit
together (the same fault, the same fraud pattern), and a detector that ignores the labels ranks
their look-alikes among everything else that is rare. The labelled rows themselves are scored
leave-one-out (each without itself), so that their scores are held-out ones.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 2)); X[:8] += 4          # a cluster of eight anomalies
>>> y = np.full(400, -1); y[:3] = 1; y[100:120] = 0    # three of them and 20 normal rows labelled
>>> scorer = NeighbourScorer.fit(X, y)
>>> bool(scorer.raw(X[3:8]).min() > scorer.raw(X[200:]).max())
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labcoat.tasks.anomaly.detectors import to_ranks

#: Labelled normal rows kept at most (a seeded sample): scoring reads the distance to each.
MAX_NORMALS = 1_000
#: Labelled anomalies kept at most.
MAX_ANOMALIES = 1_000
#: Its weight in the combination with the detectors' (the unsupervised choice): the two alike.
WEIGHT = 0.5


@dataclass
class NeighbourScorer:
    """The labelled anomalies and normal rows (features) and the training rows' scores (sorted).

    Used as the model's ``supervised`` part: :meth:`ranks` reads the first ``width`` columns of
    what it is given (the features; the detectors' ranks follow them and are not read)."""

    anomalies: np.ndarray
    normals: np.ndarray
    reference: np.ndarray
    width: int
    name: str = "neighbours"
    reads_ranks = False

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, *, seed: int = 0) -> "NeighbourScorer":
        """From the features ``X`` of every training row and ``y`` (1 anomaly, 0 normal, -1 not
        labelled): the reference is every row's score, the labelled ones' leave-one-out."""
        rng = np.random.default_rng(seed)
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        pos = pos if len(pos) <= MAX_ANOMALIES else np.sort(rng.choice(pos, MAX_ANOMALIES, replace=False))
        neg = neg if len(neg) <= MAX_NORMALS else np.sort(rng.choice(neg, MAX_NORMALS, replace=False))
        scorer = cls(X[pos].copy(), X[neg].copy(), np.zeros(1), X.shape[1])
        scorer.reference = np.sort(scorer.training_raw(X, pos, neg))
        return scorer

    def training_raw(self, X: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
        """The scores of the rows of ``X``, those at ``pos`` and ``neg`` (the kept labelled rows,
        in that order) without themselves."""
        return _ratio(_nearest(X, self.anomalies, pos), _nearest(X, self.normals, neg))

    def raw(self, X: np.ndarray) -> np.ndarray:
        """0..1: the distance to the nearest labelled normal row over its sum with the distance
        to the nearest labelled anomaly."""
        return _ratio(_nearest(X, self.anomalies), _nearest(X, self.normals))

    def ranks(self, inputs: np.ndarray) -> np.ndarray:
        """The share of training rows whose score is at most each row's (0..1)."""
        return to_ranks(self.raw(inputs[:, : self.width]), self.reference)


def _nearest(X: np.ndarray, points: np.ndarray, itself: np.ndarray | None = None) -> np.ndarray:
    """Each row's Euclidean distance to the nearest of ``points`` (row ``itself[j]`` of ``X`` not
    counting ``points[j]``); infinite when there is none."""
    if len(points) == 0:
        return np.full(len(X), np.inf)
    out = np.empty(len(X))
    squares = (points ** 2).sum(axis=1)
    for start in range(0, len(X), 4096):  # in blocks: rows x points distances stay small
        block = X[start: start + 4096]
        d2 = (block ** 2).sum(axis=1)[:, None] - 2 * block @ points.T + squares[None, :]
        if itself is not None:
            inside = (itself >= start) & (itself < start + len(block))
            d2[itself[inside] - start, np.flatnonzero(inside)] = np.inf
        out[start: start + len(block)] = d2.min(axis=1)
    return np.sqrt(np.clip(out, 0, None))


def _ratio(to_anomaly: np.ndarray, to_normal: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = to_normal / (to_anomaly + to_normal)
    ratio = np.where(np.isinf(to_anomaly), 0.0, np.where(np.isinf(to_normal), 1.0, ratio))
    return np.round(np.nan_to_num(ratio, nan=0.5), 12)  # both 0: a row on both; rounded: batch-independent
