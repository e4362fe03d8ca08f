"""95% intervals for resampled scores.

Which interval where:

- **Cross-validation** (k folds, possibly repeated): the corrected resampled t interval of
  Nadeau & Bengio (2003), :func:`labcoat.evaluate.stats.corrected_t_interval`. Fold scores
  share training rows, so their plain variance understates the spread; the correction
  inflates it by ``n_test / n_train``.
- **One holdout**: a percentile bootstrap over the validation rows (stratified by class for
  classification), re-scoring the same predictions: :func:`bootstrap_interval` here.
"""
from __future__ import annotations

import numpy as np

from labcoat.evaluate.metrics import Metric
from labcoat.evaluate.stats import CONFIDENCE

BOOTSTRAP_ROUNDS = 200


def bootstrap_interval(y: np.ndarray, predictions: np.ndarray, metric: Metric, *, stratify: bool,
                       rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0,
                       confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over rows, stratified by class if asked.

    Examples
    --------
    >>> from labcoat.evaluate.metrics import get_metric
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=400)
    >>> low, high = bootstrap_interval(y, y + rng.normal(size=400), get_metric("rmse", "regression"),
    ...                                stratify=False)
    >>> bool(low < 1.0 < high)
    True
    """
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    values = []
    for _ in range(rounds):
        rows = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        try:
            values.append(metric.score(y[rows], predictions[rows]))
        except ValueError:  # a resample without some class: skip it
            continue
    if len(values) < rounds // 2:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))
