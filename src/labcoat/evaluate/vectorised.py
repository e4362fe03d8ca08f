"""Vectorised forms of some metrics, attached to their :class:`~labcoat.evaluate.metrics.Metric`
records (``bootstrap_fast``, ``vector_loss``, ``vector_input``) where the metrics are defined.

- ``*_counts(y, pred, counts)``: the metric on many bootstrap draws of the rows at once, a draw
  being a row of ``counts`` (how often each row was drawn); used by
  :func:`labcoat.evaluate.paired.paired_bootstrap` (tested equal to scoring the drawn rows).
- ``*_blends(y, stack)``: the loss (lower is better) of many candidate blends at once, one per
  row of ``stack``, the blends' values as ``vector_input(y, p)`` gives them for one prediction
  (the predictions themselves when the metric has none); used by ensemble selection in
  :mod:`labcoat.evaluate.selection`.

The forms of a metric with ``fast_binary_only`` are written for two classes; with more, the
metric is scored the plain way.
"""
from __future__ import annotations

import numpy as np


# ------------------------------------------------------------------ bootstrap draws from counts
def _mean(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return counts @ values / counts.sum(axis=1)


def log_loss_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)  # as scikit-learn normalises
    return _mean(-np.log(clipped[np.arange(len(y)), y.astype(np.intp)]), counts)


def brier_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return _mean((p[:, 1] - y) ** 2, counts)


def accuracy_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return _mean((p.argmax(axis=1) == y).astype(np.float64), counts)


def rmse_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return np.sqrt(_mean((p - y) ** 2, counts))


def mae_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return _mean(np.abs(p - y), counts)


def mape_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return _mean(np.abs(p - y) / np.maximum(np.abs(y), np.finfo(np.float64).eps), counts)


def r2_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=1)
    centre = counts @ y / total
    spread = counts @ (y ** 2) - total * centre ** 2
    return 1 - (counts @ ((y - p) ** 2)) / spread


def roc_auc_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Binary ROC AUC of each draw: the Mann-Whitney statistic with ties counted half, from the
    counts of the positive and negative rows at each distinct score."""
    order = np.argsort(p[:, 1], kind="stable")
    scores = p[order, 1]
    starts = np.flatnonzero(np.r_[True, np.diff(scores) != 0])
    positive = (y[order] == 1).astype(np.float64)
    sorted_counts = counts[:, order]
    pos = np.add.reduceat(sorted_counts * positive, starts, axis=1)
    neg = np.add.reduceat(sorted_counts * (1 - positive), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / pairs, np.nan)


def pr_auc_counts(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Binary average precision of each draw (scikit-learn's step-wise sum): the precision at
    each distinct score, from the top, weighted by the share of positives found there."""
    order = np.argsort(-p[:, 1], kind="stable")
    scores = p[order, 1]
    starts = np.flatnonzero(np.r_[True, np.diff(scores) != 0])
    positive = (y[order] == 1).astype(np.float64)
    sorted_counts = counts[:, order]
    pos = np.add.reduceat(sorted_counts * positive, starts, axis=1)
    found = np.cumsum(pos, axis=1)
    flagged = np.cumsum(np.add.reduceat(sorted_counts, starts, axis=1), axis=1)
    precision = found / np.where(flagged > 0, flagged, 1.0)  # scores not drawn add nothing
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * precision).sum(axis=1) / found[:, -1]


# ------------------------------------------------------------------ losses of candidate blends
def truth_column(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The probability of each row's true class: what log loss reads of a blend."""
    return p[np.arange(len(y)), y]


def positive_column(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The probability of the positive class: what binary ROC AUC reads of a blend."""
    return p[:, 1]


def log_loss_blends(y: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(truth, 1e-15, 1)).mean(axis=1)


def rmse_blends(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.sqrt(((v - y) ** 2).mean(axis=1))


def mae_blends(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.abs(v - y).mean(axis=1)


def r2_blends(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The mean squared error: the same order as -R² for a fixed ``y``."""
    return ((v - y) ** 2).mean(axis=1)


def accuracy_blends(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return -(p.argmax(axis=2) == y).mean(axis=1)


def roc_auc_blends(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Negated binary ROC AUC of each row of ``scores`` (probabilities; ties count half).

    All rows are ranked in one sort by shifting row i's values into [2i, 2i + 1]; a positive's
    average rank is the mean of its left and right insertion points.
    """
    positives = y == 1
    n1, n0 = int(positives.sum()), int((~positives).sum())
    shift = 2.0 * np.arange(len(scores))[:, None]
    ordered = np.sort((scores + shift).ravel())
    # Sorted needles make searchsorted a linear merge; the shift keeps each row's needles together.
    probe = np.sort((scores[:, positives] + shift).ravel())
    ranks = (np.searchsorted(ordered, probe, "left") + np.searchsorted(ordered, probe, "right") + 1) / 2
    rank_sums = ranks.reshape(len(scores), n1).sum(axis=1) - np.arange(len(scores)) * scores.shape[1] * n1
    return -(rank_sums - n1 * (n1 + 1) / 2) / (n1 * n0)
