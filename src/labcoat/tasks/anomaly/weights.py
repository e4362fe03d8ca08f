"""Which detectors the ensemble keeps and how much each weighs.

Without labels (:func:`unsupervised_weights`): each detector is judged by two things one can
measure without labels, both on a tail-weighted scale (``-log(1 - rank)``, so that the ordering
of the most unusual rows counts far more than that of the ordinary bulk):

- **agreement**: the correlation of its scores with the consensus of the *other* detectors
  (their mean), the pseudo ground truth of consensus-based selection (Rayana & Akoglu's SELECT);
- **stability**: the correlation between its scores when fitted on two disjoint halves of the
  rows (both scoring every row): a detector whose ranking changes with the sample is fitting noise.

The criterion is their product; detectors reaching half of the best criterion are kept, weighted
in proportion to it. No detector is a favourite: on another table, another one wins.

With labels (:func:`label_weights`): greedy forward selection with replacement (Caruana et al.)
of the rank average with the best average precision (PR AUC) on the labelled rows.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> truth = rng.random(500)
>>> ranks = {"a": truth, "b": truth + 0.01 * rng.random(500), "noise": rng.random(500)}
>>> weights, table = unsupervised_weights({k: to_uniform(v) for k, v in ranks.items()}, {"a": 0.9, "b": 0.9, "noise": 0.1})
>>> sorted(k for k, w in weights.items() if w > 0)
['a', 'b']
"""
from __future__ import annotations

import numpy as np

#: Detectors whose criterion reaches this share of the best one's are kept.
KEEP_SHARE = 0.5
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
    x, y = tail(a), tail(b)
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
    best = max((f["criterion"] for f in figures.values()), default=0.0)
    if best <= 0:  # nothing agrees with anything: weigh them all alike
        return {name: 1.0 / len(names) for name in names}, figures
    kept = {name: f["criterion"] for name, f in figures.items() if f["criterion"] >= KEEP_SHARE * best}
    total = sum(kept.values())
    return {name: kept.get(name, 0.0) / total for name in names}, figures


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (PR AUC) of ``scores`` for the 0/1 labels ``y``."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, scores))


def label_weights(ranks: dict[str, np.ndarray], y: np.ndarray, rows: np.ndarray, *, rounds: int = ROUNDS
                  ) -> dict[str, float]:
    """Weights (summing to 1) chosen on the labelled ``rows`` (labels ``y``, 0/1): greedy forward
    selection with replacement of the rank average with the best average precision."""
    names = list(ranks)
    matrix = np.column_stack([ranks[n][rows] for n in names])
    counts = np.zeros(len(names))
    total = np.zeros(len(rows))
    for step in range(rounds):
        gains = [average_precision(y, (total + matrix[:, j]) / (step + 1)) for j in range(len(names))]
        best = int(np.argmax(gains))
        counts[best] += 1
        total += matrix[:, best]
    return {name: float(c / counts.sum()) for name, c in zip(names, counts)}
