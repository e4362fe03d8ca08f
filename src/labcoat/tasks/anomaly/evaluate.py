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

from collections.abc import Callable
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


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney: ties count half), as scikit-learn's without its checks' cost.

    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.5, 0.5, 0.9]))
    0.875
    """
    from scipy.stats import rankdata

    positives = float(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (PR AUC) as scikit-learn's ``average_precision_score`` computes it
    (precision at each distinct score, weighted by the recall it adds), without its checks' cost.

    >>> average_precision(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.8333333333333333
    """
    order = np.argsort(-scores, kind="stable")
    ordered, truth = scores[order], y[order]
    last = np.r_[ordered[1:] != ordered[:-1], True]  # the last row of each distinct score
    tp = np.cumsum(truth)[last]
    seen = (np.arange(1, len(y) + 1))[last]
    if not len(tp) or tp[-1] == 0:
        return float("nan")
    recall_gain = np.diff(np.r_[0.0, tp / tp[-1]])
    return float(np.sum(recall_gain * tp / seen))


def precision_at(y: np.ndarray, flagged: np.ndarray) -> float:
    """The share of flagged rows that are labelled anomalies (NaN when none is flagged)."""
    return float(y[flagged].mean()) if flagged.any() else float("nan")


def label_metrics(y: np.ndarray, scores: np.ndarray, flagged: np.ndarray, *, seed: int = 0,
                  rounds: int = ROUNDS) -> dict[str, Any]:
    """ROC AUC, PR AUC and the precision of the ``flagged`` rows, each ``{value, low, high}``."""
    measures: dict[str, Callable[[np.ndarray], float]] = {
        "roc_auc": lambda rows: roc_auc(y[rows], scores[rows]),
        "pr_auc": lambda rows: average_precision(y[rows], scores[rows]),
        "precision_at_threshold": lambda rows: precision_at(y[rows], flagged[rows]),
    }
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == 0), np.flatnonzero(y == 1)]
    resamples = [np.concatenate([rng.choice(g, len(g)) for g in groups]) for _ in range(rounds)]
    everything = np.arange(len(y))
    out: dict[str, Any] = {}
    for name, measure in measures.items():
        values = np.array([measure(rows) for rows in resamples])
        values = values[~np.isnan(values)]
        value = measure(everything)
        low, high = (np.quantile(values, [0.025, 0.975]) if len(values) >= rounds // 2 else (np.nan, np.nan))
        out[name] = {"value": value, "low": float(low), "high": float(high)}
    out["precision_at_threshold"]["flagged"] = int(flagged.sum())
    out["labelled_rows"], out["positives"] = int(len(y)), int(y.sum())
    return out
