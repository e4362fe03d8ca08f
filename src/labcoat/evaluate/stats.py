"""Shared statistics of resampled scores: the corrected resampled t and Holm's adjustment.

Fold scores of k-fold cross-validation (possibly repeated) share training rows, so their plain
variance understates the spread. The corrected resampled t of Nadeau & Bengio (2003) inflates
it by ``n_test / n_train``: over J fold values with variance ``s²`` the variance of their mean
is taken as ``(1/J + n_test/n_train) · s²``, with ``J - 1`` degrees of freedom. The same
correction gives

- :func:`corrected_t_interval`: the 95% interval of a score from its fold scores,
  ``mean ± t(J-1) · sqrt((1/J + n_test/n_train) · s²)``;
- :func:`paired_test`: the corrected resampled paired t-test of two models scored on the same
  folds (the per-fold differences are the values);
- :func:`corrected_half_width`: the interval's half width from a kept standard deviation.

With several tests at once, :func:`holm` adjusts the p-values (Holm's step-down method).

Examples
--------
>>> low, high = corrected_t_interval([0.80, 0.82, 0.79, 0.81, 0.83], n_train=800, n_test=200)
>>> round(low, 4), round(high, 4)
(0.7806, 0.8394)
>>> a = [0.80, 0.82, 0.79, 0.81, 0.83, 0.80, 0.82, 0.81, 0.80, 0.82]
>>> b = [0.82, 0.83, 0.81, 0.83, 0.84, 0.82, 0.84, 0.82, 0.83, 0.83]
>>> result = paired_test(b, a, n_train=900, n_test=100)
>>> round(result.difference, 3), result.p_value < 0.05
(0.017, True)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def inflation(k: int, n_train: float, n_test: float) -> float:
    """The factor ``1/k + n_test/n_train`` by which the corrected resampled t multiplies the
    variance of ``k`` fold values (the plain ``1/k`` of a mean, plus the correction)."""
    return 1 / k + n_test / n_train


def corrected_variance(values: np.ndarray, n_train: float, n_test: float) -> float:
    """The corrected variance of the mean of fold ``values`` (no NaN, at least two)."""
    return inflation(len(values), n_train, n_test) * float(values.var(ddof=1))


def t_quantile(dof: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided ``confidence`` quantile of Student's t with ``dof`` degrees of freedom."""
    return float(stats.t.ppf(0.5 + confidence / 2, dof))


def corrected_t_interval(scores: Sequence[float], n_train: float, n_test: float,
                         confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The corrected resampled t interval over fold ``scores`` (NaN ignored; see the module
    docstring); NaN bounds with fewer than two scores."""
    values = np.asarray(scores, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    mean = float(values.mean())
    variance = corrected_variance(values, n_train, n_test)
    half = t_quantile(len(values) - 1, confidence) * np.sqrt(variance)
    return float(mean - half), float(mean + half)


def corrected_half_width(std: float, k: int, n_train: float, n_test: float,
                         confidence: float = CONFIDENCE) -> float:
    """Half width of the corrected resampled t interval from the standard deviation ``std``
    (``ddof=1``) of ``k`` fold values, when only that was kept.

    Examples
    --------
    >>> round(corrected_half_width(0.0158, 5, n_train=800, n_test=200), 4)
    0.0294
    """
    return t_quantile(k - 1, confidence) * std * math.sqrt(inflation(k, n_train, n_test))


@dataclass(frozen=True)
class Comparison:
    """``difference`` = mean(a − b) over folds, its 95% interval, and the two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float

    def verdict(self, a: str, b: str, metric: str, greater_is_better: bool = True,
                alpha: float = 0.05) -> str:
        """The result in plain words, e.g. "B is better than A by 0.012 ROC AUC [0.004, 0.020],
        p = 0.003"."""
        interval = f"[{self.low:.3f}, {self.high:.3f}], p = {self.p_value:.3g}"
        if self.p_value >= alpha:
            return (f"No clear difference between {a} and {b}: {a} − {b} = {self.difference:+.3f} "
                    f"{metric} {interval}.")
        a_wins = (self.difference > 0) == greater_is_better
        winner, loser = (a, b) if a_wins else (b, a)
        return f"{winner} is better than {loser} by {abs(self.difference):.3f} {metric} {interval}."


def paired_test(scores_a: Sequence[float], scores_b: Sequence[float], n_train: float, n_test: float,
                confidence: float = CONFIDENCE) -> Comparison:
    """Corrected resampled paired t-test of two models' scores on the same folds (folds where
    either is NaN are left out); a :class:`ValueError` with fewer than two common folds."""
    diff = np.asarray(scores_a, dtype=np.float64) - np.asarray(scores_b, dtype=np.float64)
    diff = diff[~np.isnan(diff)]
    if len(diff) < 2:
        raise ValueError("A paired test needs the two models' scores on at least 2 common folds.")
    mean = float(diff.mean())
    variance = corrected_variance(diff, n_train, n_test)
    dof = len(diff) - 1
    if variance == 0:
        return Comparison(mean, mean, mean, 1.0 if mean == 0 else 0.0)
    se = float(np.sqrt(variance))
    half = t_quantile(dof, confidence) * se
    p_value = float(2 * stats.t.sf(abs(mean) / se, dof))
    return Comparison(mean, mean - half, mean + half, p_value)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of several p-values (same order as given).

    Examples
    --------
    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def common_folds(a: Sequence[float], b: Sequence[float]) -> tuple[list[float], list[float]]:
    """Two trials' scores on the folds both ran (their common prefix of the plan's folds).

    Examples
    --------
    >>> common_folds([0.8, 0.9, 0.7], [0.6, 0.5])
    ([0.8, 0.9], [0.6, 0.5])
    """
    n = min(len(a), len(b))
    return list(a[:n]), list(b[:n])
