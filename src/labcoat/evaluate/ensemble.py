"""Greedy ensemble selection with replacement (Caruana et al., 2004) over out-of-fold predictions."""

from __future__ import annotations

import numpy as np

from labcoat.evaluate.metrics import Metric


def select_ensemble(predictions: list[np.ndarray], y: np.ndarray, metric: Metric, *,
                    rounds: int = 25) -> np.ndarray:
    """Weights over ``predictions`` that minimise ``metric``'s loss of their weighted average.

    Each round adds one model (the same model may be added again) to the running average,
    picking the one whose addition gives the lowest loss; weights are how often each was
    picked, divided by the number of rounds. Ties go to the earlier model, so the result
    is deterministic. Rows that are NaN in any prediction (holdout) are ignored.

    Examples
    --------
    >>> from labcoat.evaluate.metrics import get_metric
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> a, b = y + 1.0, y - 1.0  # opposite errors: their average is exact
    >>> select_ensemble([a, b], y, get_metric("rmse", "regression"), rounds=2).tolist()
    [0.5, 0.5]
    """
    if not predictions:
        raise ValueError("select_ensemble needs at least one prediction")
    rows = np.ones(len(y), dtype=bool)
    for p in predictions:
        rows &= ~np.isnan(p).reshape(len(y), -1).any(axis=1)
    preds = [p[rows] for p in predictions]
    y = y[rows]
    counts = np.zeros(len(preds))
    running = np.zeros_like(preds[0])
    for step in range(1, rounds + 1):
        losses = [metric.loss(y, (running * (step - 1) + p) / step) for p in preds]
        best = int(np.argmin(losses))
        counts[best] += 1
        running = (running * (step - 1) + preds[best]) / step
    return counts / counts.sum()
