"""Paired bootstrap over rows: two models' scores on the same labelled rows, and their difference.

Each round draws the rows with replacement (stratified by class for classification) and scores
*both* models on the same draw, so the spread of the difference keeps the two models'
correlation. Every round re-scores the metric itself, so metrics that are not a mean over rows
(ROC AUC, PR AUC, F1) are handled as they are, not approximated by a per-row statistic.

A draw is a vector of counts (how often each row was drawn). Binary ROC AUC and PR AUC, and the
metrics that are functions of per-row means (log loss, Brier, accuracy, RMSE, MAE, R², MAPE),
are computed for many rounds at once from the counts (tested equal to scoring the drawn rows);
the others are scored round by round.

The interval is the percentile interval of the differences; the one-sided p-value of
``H0: difference <= null`` is ``(1 + #{d* <= null}) / (rounds + 1)``, so that the lower bound
of the 95% interval is above ``null`` when, and about only when, that p-value is below 0.025.

Examples
--------
>>> from labcoat.evaluate.metrics import get_metric
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 400)
>>> good, weak = y + rng.normal(0, 0.8, 400), y + rng.normal(0, 2.0, 400)
>>> as_proba = lambda s: np.column_stack([1 - 1 / (1 + np.exp(-s)), 1 / (1 + np.exp(-s))])
>>> result = paired_bootstrap(y, as_proba(good), as_proba(weak), get_metric("roc_auc", "binary"),
...                           stratify=True)
>>> bool(result.low > 0), result.p_value(0.0) < 0.025
(True, True)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from labcoat.evaluate.metrics import Metric
from labcoat.evaluate.stats import CONFIDENCE

ROUNDS = 2000
#: Count-matrix cells scored at once (rounds × rows), to bound memory.
_CELLS = 2_000_000


@dataclass(frozen=True)
class PairedBootstrap:
    """Scores of models A and B on the same rows with 95% intervals, and ``difference``, the
    gain of A over B in the metric's units, positive when A is better (``score_a - score_b``
    when greater is better, ``score_b - score_a`` for a loss), with its interval."""

    score_a: float
    score_b: float
    interval_a: tuple[float, float]
    interval_b: tuple[float, float]
    difference: float
    low: float
    high: float
    rounds: int
    confidence: float
    draws: np.ndarray = field(repr=False, compare=False)

    def p_value(self, null: float = 0.0) -> float:
        """One-sided bootstrap p-value of ``H0: difference <= null`` (small: A better than B by
        more than ``null``)."""
        return float((1 + np.count_nonzero(self.draws <= null)) / (len(self.draws) + 1))

    def two_sided_p_value(self) -> float:
        """Bootstrap p-value of ``H0: difference = 0`` against either direction: twice the
        smaller one-sided p-value, at most 1."""
        at_least = (1 + np.count_nonzero(self.draws >= 0)) / (len(self.draws) + 1)
        return min(1.0, 2 * min(self.p_value(0.0), float(at_least)))


def paired_bootstrap(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, metric: Metric, *,
                     stratify: bool, rounds: int = ROUNDS, seed: int = 0,
                     confidence: float = CONFIDENCE) -> PairedBootstrap:
    """Paired percentile bootstrap of ``metric`` for predictions ``pred_a`` and ``pred_b`` of
    the same rows ``y`` (encoded as for :class:`~labcoat.evaluate.metrics.Metric`); see the
    module docstring."""
    y = np.asarray(y)
    pred_a, pred_b = np.asarray(pred_a, dtype=np.float64), np.asarray(pred_b, dtype=np.float64)
    if not len(y) == len(pred_a) == len(pred_b):
        raise ValueError(f"y and the two predictions must have one row each; got {len(y)}, "
                         f"{len(pred_a)} and {len(pred_b)}.")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    scorer = counts_scorer(metric, y)
    per_chunk = max(1, _CELLS // max(len(y), 1))
    a_all, b_all = [], []
    for start in range(0, rounds, per_chunk):
        counts = _draw_counts(rng, groups, len(y), min(per_chunk, rounds - start))
        a_all.append(scorer(pred_a, counts))
        b_all.append(scorer(pred_b, counts))
    a, b = np.concatenate(a_all), np.concatenate(b_all)
    kept = ~(np.isnan(a) | np.isnan(b))
    if kept.sum() < rounds // 2:
        raise ValueError("Too few bootstrap rounds could be scored (a class missing from most draws?); "
                         "more labelled rows are needed.")
    a, b = a[kept], b[kept]
    sign = 1.0 if metric.greater_is_better else -1.0
    draws = sign * (a - b)
    every = np.ones((1, len(y)))  # each row once: the plain scores
    score_a, score_b = float(scorer(pred_a, every)[0]), float(scorer(pred_b, every)[0])
    tail = (1 - confidence) / 2
    quantiles = (tail, 1 - tail)
    low, high = np.quantile(draws, quantiles)
    return PairedBootstrap(score_a=score_a, score_b=score_b,
                           interval_a=tuple(float(q) for q in np.quantile(a, quantiles)),  # type: ignore[arg-type]
                           interval_b=tuple(float(q) for q in np.quantile(b, quantiles)),  # type: ignore[arg-type]
                           difference=sign * (score_a - score_b), low=float(low), high=float(high),
                           rounds=int(kept.sum()), confidence=confidence, draws=draws)


def _draw_counts(rng: np.random.Generator, groups: list[np.ndarray], n: int, rounds: int) -> np.ndarray:
    """``rounds`` bootstrap draws as counts per row (rounds × n): each group of rows resampled to
    its own size."""
    counts = np.zeros((rounds, n), dtype=np.float64)
    offsets = (np.arange(rounds) * n)[:, None]
    for rows in groups:
        drawn = rows[rng.integers(0, len(rows), size=(rounds, len(rows)))]
        counts += np.bincount((drawn + offsets).ravel(), minlength=rounds * n).reshape(rounds, n)
    return counts


Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


def counts_scorer(metric: Metric, y: np.ndarray) -> Scorer:
    """``scorer(pred, counts)``: the metric on each draw (one row of ``counts`` each) of the
    rows ``y`` with predictions ``pred``; vectorised where the metric has a ``bootstrap_fast``
    form (see :mod:`labcoat.evaluate.vectorised`)."""
    fast, generic = metric.bootstrap_fast, _generic(metric, y)

    def score(pred: np.ndarray, counts: np.ndarray) -> np.ndarray:
        multiclass = pred.ndim == 2 and pred.shape[1] != 2
        if fast is None or (multiclass and metric.fast_binary_only):
            return generic(pred, counts)
        return fast(y, pred, counts)
    return score


def _generic(metric: Metric, y: np.ndarray) -> Scorer:
    def score(pred: np.ndarray, counts: np.ndarray) -> np.ndarray:
        out = np.full(len(counts), np.nan)
        every = np.arange(len(y))
        for i, row in enumerate(counts):
            rows = np.repeat(every, row.astype(np.int64))
            try:
                out[i] = metric.score(y[rows], pred[rows])
            except ValueError:  # a draw without some class
                continue
        return out
    return score
