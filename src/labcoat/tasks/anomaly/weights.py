"""Which detectors the ensemble keeps and how much each weighs.

Without labels (:func:`unsupervised_weights`): each detector is judged by two things one can
measure without labels, both on a tail-weighted scale (``-log(1 - rank)``, so that the ordering
of the most unusual rows counts far more than that of the ordinary bulk):

- **agreement**: the correlation of its scores with the consensus of the *other* detectors
  (their mean), the pseudo ground truth of consensus-based selection (Rayana & Akoglu's SELECT);
- **stability**: the correlation between its scores when fitted on two disjoint halves of the
  rows (both scoring every row): a detector whose ranking changes with the sample is fitting noise.

The criterion is their product; the :data:`COMMITTEE` detectors with the best criterion are kept,
weighed alike. A small committee rather than every detector: a rank average of many dilutes the
top ranks that matter. By mean rank among labcoat and the eight PyOD detectors, on the 14
ADBench sets (``benchmarks/anomaly.py``) and on 32 sets of ADBench's synthetic anomalies planted
in the normal rows of eight of them (``benchmarks/anomaly_synthetic.py``): the two best, ROC AUC
3.36 and 3.58 against the best single detector's 3.57 and 3.89, average precision 3.43 and 3.78
against 3.36 and 3.98; the three best, ROC AUC 3.64 and 3.88 against 3.50 and 3.69, average
precision 3.21 and 4.05 against 3.36 and 3.88. In a scratch study on the same two suites, all
eight averaged, or a committee kept diverse (a detector skipped when it correlates above 0.7-0.9
with one kept), did worse in both (ROC AUC mean rank 5.00 and 4.47 for all eight): the
consensus of similar detectors is right more often than an outlying view. No detector is a
favourite: on another table, others win.

With labels (:func:`label_weights`): greedy forward selection with replacement (Caruana et al.)
of the rank average with the best average precision (PR AUC) on the labelled rows.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> truth = rng.random(500)
>>> ranks = {"a": truth, "b": truth + 0.01 * rng.random(500), "c": truth + 0.1 * rng.random(500),
...          "noise": rng.random(500)}
>>> weights, table = unsupervised_weights({k: to_uniform(v) for k, v in ranks.items()},
...                                       {"a": 0.9, "b": 0.9, "c": 0.9, "noise": 0.1})
>>> sorted(k for k, w in weights.items() if w > 0)  # two of the three that agree, not the noise
['b', 'c']
"""
from __future__ import annotations

import numpy as np

from labcoat.tasks.anomaly.evaluate import average_precision

#: Detectors kept without labels: those with the best criterion.
COMMITTEE = 2
#: With labels, the unsupervised choice counts as this many picks of the greedy selection
#: before the labels' :data:`ROUNDS`: a few labels adjust it rather than replace it.
PRIOR_ROUNDS = 5
#: Rounds of the greedy selection with labels.
ROUNDS = 10


def to_uniform(values: np.ndarray) -> np.ndarray:
    """Values as their ranks in (0, 1]."""
    order = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    return (order + 1) / len(values)


def tail(ranks: np.ndarray) -> np.ndarray:
    """Ranks on the tail-weighted scale ``-log(1 - rank)`` (rank 1 kept finite)."""
    n = max(len(ranks), 1)
    return -np.log(np.clip(1 - ranks, 0.5 / n, 1))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` on the tail-weighted scale (0 when either is constant)."""
    x, y = tail(np.nan_to_num(a)), tail(np.nan_to_num(b))
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def unsupervised_weights(ranks: dict[str, np.ndarray], stability: dict[str, float]
                         ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The weights (summing to 1) from each detector's agreement and ``stability`` (NaN: not
    measured, counted as 1), and the per-detector figures."""
    names = list(ranks)
    figures: dict[str, dict[str, float]] = {}
    for name in names:
        others = [ranks[o] for o in names if o != name]
        agreement = correlation(ranks[name], np.mean(others, axis=0)) if others else 1.0
        stable = stability.get(name, float("nan"))
        criterion = max(agreement, 0.0) * (1.0 if stable != stable else max(stable, 0.0))
        figures[name] = {"agreement": agreement, "stability": stable, "criterion": criterion}
    ranked = sorted(names, key=lambda n: -figures[n]["criterion"])  # stable: ties keep the given order
    kept = ranked[:COMMITTEE]
    return {name: (1.0 / len(kept) if name in kept else 0.0) for name in names}, figures


def label_weights(ranks: dict[str, np.ndarray], y: np.ndarray, rows: np.ndarray, *,
                  prior: dict[str, float] | None = None, rounds: int = ROUNDS) -> dict[str, float]:
    """Weights (summing to 1) chosen on the labelled ``rows`` (labels ``y``, 0/1): greedy forward
    selection with replacement of the rank average with the best average precision, starting
    from ``prior`` (the unsupervised weights) counted as :data:`PRIOR_ROUNDS` picks."""
    names = list(ranks)
    matrix = np.column_stack([ranks[n][rows] for n in names])
    counts = np.array([PRIOR_ROUNDS * (prior or {}).get(n, 0.0) for n in names])
    total = matrix @ counts
    for _ in range(rounds):
        gains = [average_precision(y, total + matrix[:, j]) for j in range(len(names))]
        best = int(np.argmax(gains))
        counts[best] += 1
        total += matrix[:, best]
    return {name: float(c / counts.sum()) for name, c in zip(names, counts)}
