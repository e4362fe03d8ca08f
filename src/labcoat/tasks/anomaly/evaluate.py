"""How well the scores find the labelled anomalies: folds of the labelled rows (forward in time
when there is a time column), and ROC AUC, PR AUC and precision at the alert threshold, each with
a 95% percentile bootstrap interval over the labelled rows (stratified by label).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> y = (rng.random(400) < 0.1).astype(int)
>>> scores = y + rng.normal(0, 0.5, 400)
>>> m = label_metrics(y, scores, scores >= 1.0)
>>> m["roc_auc"]["low"] < m["roc_auc"]["value"] < m["roc_auc"]["high"]
True
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Bootstrap resamples of the intervals.
ROUNDS = 200
#: Folds of the labelled rows.
FOLDS = 5


def label_folds(y: np.ndarray, times: pd.Series | None, *, seed: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Folds over the labelled rows (positions in ``y``) and how they were made: with ``times``,
    the rows in time order cut in :data:`FOLDS` blocks, each block scored by what was learned on
    the blocks before it (the first is only learned from); else stratified folds."""
    positives = int(y.sum())
    if times is not None:
        order = np.argsort(pd.to_datetime(times).to_numpy(), kind="stable")
        blocks = np.array_split(order, FOLDS)
        folds = [(np.concatenate(blocks[:k]), blocks[k]) for k in range(1, FOLDS)]
        folds = [(train, test) for train, test in folds if y[train].sum() >= 2 and (1 - y[train]).sum() >= 2]
        return folds, (f"forward in time: the labelled rows in {FOLDS} blocks by time, each of the last "
                       f"{len(folds)} scored by what was learned on the earlier ones")
    from sklearn.model_selection import StratifiedKFold

    k = int(min(FOLDS, positives, len(y) - positives))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros(len(y)), y)], f"{k} stratified folds of the labelled rows"


class Ranked:
    """Labels sorted by descending score once, to compute ROC AUC and average precision for any
    weighting of the rows (a bootstrap resample is a weighting: how often each row was drawn)
    without sorting again: both as scikit-learn computes them, ties included."""

    def __init__(self, y: np.ndarray, scores: np.ndarray) -> None:
        self.order = np.argsort(-scores, kind="stable")
        self.y = y[self.order].astype(np.float64)
        ordered = scores[self.order]
        self.last = np.r_[ordered[1:] != ordered[:-1], True]  # the last row of each distinct score

    def metrics(self, weights: np.ndarray | None = None) -> tuple[float, float]:
        """(ROC AUC, average precision) with each row counted ``weights`` times (in the original order)."""
        w = np.ones(len(self.y)) if weights is None else weights[self.order]
        tp = np.cumsum(w * self.y)[self.last]
        seen = np.cumsum(w)[self.last]
        fp = seen - tp
        positives, negatives = tp[-1], fp[-1]
        if positives == 0 or negatives == 0:
            return float("nan"), float("nan")
        group_p, group_n = np.diff(np.r_[0.0, tp]), np.diff(np.r_[0.0, fp])
        auc = float(np.sum(group_n * (tp - group_p + 0.5 * group_p)) / (positives * negatives))
        precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
        ap = float(np.sum(group_p / positives * precision))
        return auc, ap


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC (ties count half), as scikit-learn's without its checks' cost.

    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.5, 0.5, 0.9]))
    0.875
    """
    return Ranked(y, scores).metrics()[0]


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (PR AUC) as scikit-learn's ``average_precision_score`` computes it
    (precision at each distinct score, weighted by the recall it adds), without its checks' cost.

    >>> average_precision(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.5, 0.8]))
    0.8333333333333333
    """
    return Ranked(y, scores).metrics()[1]


def precision_at(y: np.ndarray, flagged: np.ndarray) -> float:
    """The share of flagged rows that are labelled anomalies (NaN when none is flagged)."""
    return float(y[flagged].mean()) if flagged.any() else float("nan")


def label_metrics(y: np.ndarray, scores: np.ndarray, flagged: np.ndarray, *, seed: int = 0,
                  rounds: int = ROUNDS) -> dict[str, Any]:
    """ROC AUC, PR AUC and the precision of the ``flagged`` rows, each ``{value, low, high}``."""
    ranked = Ranked(y, scores)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == 0), np.flatnonzero(y == 1)]
    hits, flags = (y * flagged).astype(np.float64), flagged.astype(np.float64)
    draws = []
    for _ in range(rounds):
        weights = np.bincount(np.concatenate([rng.choice(g, len(g)) for g in groups]), minlength=len(y)).astype(float)
        auc, ap = ranked.metrics(weights)
        chosen = weights @ flags
        draws.append((auc, ap, weights @ hits / chosen if chosen else np.nan))
    values = np.array(draws)
    auc, ap = ranked.metrics()
    out: dict[str, Any] = {}
    for k, (name, value) in enumerate((("roc_auc", auc), ("pr_auc", ap),
                                       ("precision_at_threshold", precision_at(y, flagged)))):
        column = values[:, k][~np.isnan(values[:, k])]
        low, high = np.quantile(column, [0.025, 0.975]) if len(column) >= rounds // 2 else (np.nan, np.nan)
        out[name] = {"value": value, "low": float(low), "high": float(high)}
    out["precision_at_threshold"]["flagged"] = int(flagged.sum())
    out["labelled_rows"], out["positives"] = int(len(y)), int(y.sum())
    return out
