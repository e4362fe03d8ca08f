"""95% intervals for resampled scores.

Which interval where:

- **Cross-validation** (k folds, possibly repeated): the corrected resampled t interval of
  Nadeau & Bengio (2003). Fold scores share training rows, so their plain variance
  understates the spread; the correction inflates it by ``n_test / n_train``:
  ``mean ± t(J-1) · sqrt((1/J + n_test/n_train) · s²)`` over the J fold scores.
- **One holdout**: a percentile bootstrap over the validation rows (stratified by class for
  classification), re-scoring the same predictions.

Examples
--------
>>> low, high = corrected_t_interval([0.80, 0.82, 0.79, 0.81, 0.83], n_train=800, n_test=200)
>>> round(low, 4), round(high, 4)
(0.7806, 0.8394)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from labcoat.evaluate.metrics import Metric

CONFIDENCE = 0.95
BOOTSTRAP_ROUNDS = 200


def corrected_t_interval(scores: Sequence[float], n_train: float, n_test: float,
                         confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The corrected resampled t interval over fold ``scores`` (see the module docstring)."""
    values = np.asarray(scores, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    mean = float(values.mean())
    variance = (1 / len(values) + n_test / n_train) * float(values.var(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1)) * np.sqrt(variance)
    return float(mean - half), float(mean + half)


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
