"""The selection-corrected estimate: how good the chosen model is, once the search that chose
it is accounted for.

The search scores many configurations on the same folds and keeps the best (and an ensemble
weighted on the same out-of-fold predictions), so the winner's cross-validated score is biased
upward: with enough candidates, one of them looks good by luck. Nested resampling removes the
bias by repeating the whole search k times; that multiplies the budget by k. labcoat uses the
**bootstrap bias-corrected** estimate instead (BBC-CV, Tsamardinos, Greasidou & Borboudakis,
*Machine Learning* 107, 2018), which needs no retraining and was shown there to track nested
CV's estimate: draw rows with replacement; on the drawn rows, redo the selection (here
ensemble selection over the candidates' out-of-fold predictions, exactly as the search does);
score the selected blend on the rows not drawn. The mean of those scores is the estimate and
their 2.5% and 97.5% quantiles its interval.

With an outer holdout or a test set (``fit(test=...)``, ``holdout=``), the model is also scored
on rows the search never saw; that figure is reported next to this one.

Examples
--------
>>> from labcoat.evaluate.metrics import get_metric
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 400)
>>> noise = [np.column_stack([1 - p, p]) for p in rng.random((30, 400))]  # 30 useless models
>>> est = selection_corrected(y, noise, get_metric("roc_auc", "binary"), rounds=30, stratify=True)
>>> est.search_score > 0.5, abs(est.corrected_score - 0.5) < 0.05
(True, True)
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from labcoat.evaluate.metrics import Metric
from labcoat.evaluate.stats import CONFIDENCE
from labcoat.evaluate.ensemble import select_ensemble

#: Bootstrap rounds (each redoes ensemble selection); fewer when ``seconds`` runs out.
ROUNDS = 50
#: Rows used by the bootstrap, sampled once, so its cost does not grow with the data.
MAX_ROWS = 3_000
#: Fewer completed rounds than this give no interval.
MIN_ROUNDS = 10


@dataclass(frozen=True)
class SelectionEstimate:
    """The search's own estimate of the chosen model next to the selection-corrected one."""

    search_score: float
    corrected_score: float
    low: float
    high: float
    rounds: int
    method: str = "bootstrap bias-corrected (BBC-CV)"

    @property
    def gap(self) -> float:
        """How much the search's estimate exceeds the corrected one, in the metric's units."""
        return self.search_score - self.corrected_score

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gap": self.gap}


def selection_corrected(y: np.ndarray, candidates: list[np.ndarray], metric: Metric, *,
                        rounds: int = ROUNDS, seed: int = 0, seconds: float | None = None,
                        stratify: bool) -> SelectionEstimate:
    """BBC-CV estimate of the ensemble chosen from ``candidates`` (out-of-fold predictions,
    NaN on rows never validated), with its 95% interval (see the module docstring).

    ``seconds`` caps the time spent; the rounds done by then are used. ``stratify`` draws the
    bootstrap rows within each value of ``y`` (the task says: ``Task.stratified``).
    """
    rng = np.random.default_rng(seed)
    rows = np.ones(len(y), dtype=bool)
    for p in candidates:
        rows &= ~np.isnan(p).reshape(len(y), -1).any(axis=1)
    index = np.flatnonzero(rows)
    if len(index) > MAX_ROWS:
        index = np.sort(rng.choice(index, MAX_ROWS, replace=False))
    y = np.asarray(y)[index]
    preds = [p[index] for p in candidates]
    full = _select(preds, y, metric)
    search_score = metric.score(y, _blend(preds, full))
    groups = ([np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))])
    deadline = None if seconds is None else time.monotonic() + seconds
    scores: list[float] = []
    for _ in range(rounds):
        if deadline is not None and time.monotonic() > deadline and len(scores) >= MIN_ROUNDS:
            break
        drawn = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        left_out = np.setdiff1d(np.arange(len(y)), drawn)
        if len(left_out) == 0:
            continue
        try:
            weights = _select([p[drawn] for p in preds], y[drawn], metric)
            scores.append(metric.score(y[left_out], _blend([p[left_out] for p in preds], weights)))
        except ValueError:  # a class missing from the left-out rows: this round says nothing
            continue
    if not scores:
        return SelectionEstimate(search_score, float("nan"), float("nan"), float("nan"), 0)
    tail = (1 - CONFIDENCE) / 2
    low, high = ((float(np.quantile(scores, tail)), float(np.quantile(scores, 1 - tail)))
                 if len(scores) >= MIN_ROUNDS else (float("nan"), float("nan")))
    return SelectionEstimate(float(search_score), float(np.mean(scores)), low, high, len(scores))


def _select(preds: list[np.ndarray], y: np.ndarray, metric: Metric, rounds: int = 25) -> np.ndarray:
    """Ensemble selection as :func:`~labcoat.evaluate.ensemble.select_ensemble` does it, with the
    loss of every candidate addition computed at once where the metric has a ``vector_loss``
    (see :mod:`labcoat.evaluate.vectorised`); one bootstrap round then costs milliseconds
    instead of the 500 metric calls of the plain loop."""
    losses, values = metric.vector_loss, metric.vector_input
    if losses is None or (metric.fast_binary_only and preds[0].shape[1] != 2):
        return select_ensemble(preds, y, metric, rounds=rounds)
    stack = np.stack([values(y, p) if values is not None else p for p in preds])
    counts = np.zeros(len(preds))
    running = np.zeros_like(stack[0])
    for step in range(1, rounds + 1):
        best = int(np.argmin(losses(y, (running * (step - 1) + stack) / step)))
        counts[best] += 1
        running = (running * (step - 1) + stack[best]) / step
    return counts / counts.sum()


def _blend(preds: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    return sum(w * p for p, w in zip(preds, weights) if w > 0)
