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
ROUNDS = 300
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


def precision_at(y: np.ndarray, flagged: np.ndarray) -> float:
    """The share of flagged rows that are labelled anomalies (NaN when none is flagged)."""
    return float(y[flagged].mean()) if flagged.any() else float("nan")


def label_metrics(y: np.ndarray, scores: np.ndarray, flagged: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """ROC AUC, PR AUC and the precision of the ``flagged`` rows, each ``{value, low, high}``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    measures: dict[str, Callable[[np.ndarray], float]] = {
        "roc_auc": lambda rows: float(roc_auc_score(y[rows], scores[rows])),
        "pr_auc": lambda rows: float(average_precision_score(y[rows], scores[rows])),
        "precision_at_threshold": lambda rows: precision_at(y[rows], flagged[rows]),
    }
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == 0), np.flatnonzero(y == 1)]
    resamples = [np.concatenate([rng.choice(g, len(g)) for g in groups]) for _ in range(ROUNDS)]
    everything = np.arange(len(y))
    out: dict[str, Any] = {}
    for name, measure in measures.items():
        values = np.array([measure(rows) for rows in resamples])
        values = values[~np.isnan(values)]
        value = measure(everything)
        low, high = (np.quantile(values, [0.025, 0.975]) if len(values) >= ROUNDS // 2 else (np.nan, np.nan))
        out[name] = {"value": value, "low": float(low), "high": float(high)}
    out["precision_at_threshold"]["flagged"] = int(flagged.sum())
    out["labelled_rows"], out["positives"] = int(len(y)), int(y.sum())
    return out
