"""How good a classifier's probabilities are: the Brier score, and the reliability curve
(mean predicted probability against observed frequency, per bin) with the expected
calibration error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labcoat.errors import ConfigError
from labcoat.evaluate.metrics import METRICS


def brier_score(y: np.ndarray, proba: np.ndarray) -> float:
    """Brier score (lower is better): scikit-learn's ``brier_score_loss``, i.e. the mean squared
    error of the positive-class probability for two classes and the mean over rows of the
    squared distance to the one-hot target for more.

    ``proba`` is ``(n, n_classes)``, or ``(n,)`` positive-class probabilities.

    Examples
    --------
    >>> brier_score(np.array([0, 1]), np.array([[0.8, 0.2], [0.4, 0.6]]))
    0.1
    >>> brier_score(np.array([0, 2]), np.array([[1.0, 0, 0], [0.5, 0, 0.5]]))
    0.25
    """
    proba = _as_matrix(proba)
    return METRICS["brier"].score(np.asarray(y), proba)


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per bin: mean predicted probability, observed frequency and row count; and the expected
    calibration error (count-weighted mean of ``|observed - mean_predicted|``).

    ``kind`` says what is binned: the positive class's probability (two classes) or the top
    class's confidence against accuracy (more classes).
    """

    mean_predicted: np.ndarray
    observed: np.ndarray
    count: np.ndarray
    ece: float
    kind: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready lists, rounded to 6 decimals."""
        return {"kind": self.kind, "ece": round(self.ece, 6),
                "mean_predicted": [round(float(v), 6) for v in self.mean_predicted],
                "observed": [round(float(v), 6) for v in self.observed],
                "count": [int(c) for c in self.count]}


def reliability_curve(y: np.ndarray, proba: np.ndarray, bins: int = 10,
                      strategy: str = "quantile") -> ReliabilityCurve:
    """Reliability diagram data, binned as ``sklearn.calibration.calibration_curve`` bins
    (``strategy`` ``"quantile"`` or ``"uniform"``; empty bins are left out), plus row counts.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1])
    >>> curve = reliability_curve(y, np.array([0.1, 0.3, 0.6, 0.9]), bins=2)
    >>> curve.mean_predicted.tolist(), curve.observed.tolist(), curve.count.tolist()
    ([0.2, 0.75], [0.0, 1.0], [2, 2])
    >>> round(curve.ece, 3)
    0.225
    """
    y = np.asarray(y)
    proba = _as_matrix(proba)
    if proba.shape[1] == 2:
        target, score, kind = (y == 1).astype(np.float64), proba[:, 1], "positive class"
    else:
        target = (proba.argmax(axis=1) == y).astype(np.float64)
        score, kind = proba.max(axis=1), "top-class confidence"
    if strategy == "quantile":
        edges = np.percentile(score, np.linspace(0, 100, bins + 1))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        raise ConfigError(f"reliability_curve strategy must be 'quantile' or 'uniform'; got {strategy!r}.")
    ids = np.searchsorted(edges[1:-1], score)  # as calibration_curve does
    count = np.bincount(ids, minlength=bins)
    sums = np.bincount(ids, weights=score, minlength=bins)
    hits = np.bincount(ids, weights=target, minlength=bins)
    kept = count > 0
    mean_predicted, observed = sums[kept] / count[kept], hits[kept] / count[kept]
    ece = float(np.sum(count[kept] * np.abs(observed - mean_predicted)) / max(len(score), 1))
    return ReliabilityCurve(mean_predicted, observed, count[kept], ece, kind)


def _as_matrix(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    return np.column_stack([1 - proba, proba]) if proba.ndim == 1 else proba
