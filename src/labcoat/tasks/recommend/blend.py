"""Blends of recommenders: a weighted sum of their scores, each standardised per user first.

Recommenders score on different scales (counts, similarities, dot products), so each user's
scores are standardised over the items (mean 0, standard deviation 1) before the weighted sum;
the weights are chosen on the validation holdout among a grid on the simplex
(:func:`weight_grid`), never on the test.

Examples
--------
>>> weight_grid(2, step=0.5)
[(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]
>>> [round(float(v), 3) for v in standardise(np.array([[1.0, 2.0, 3.0]]))[0]]
[-1.225, 0.0, 1.225]
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np

from labcoat.tasks.recommend.candidates import Recommender


def standardise(scores: np.ndarray) -> np.ndarray:
    """Each row of ``scores`` less its mean, over its standard deviation (a flat row: zeros)."""
    scores = np.asarray(scores, dtype=np.float32)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.where(std > 0, std, 1.0)


def blend_scores(members: Sequence[Recommender], weights: Sequence[float], users: np.ndarray) -> np.ndarray:
    """The blend's scores of every item for ``users``: one member's own scores when it is alone
    (so that a single model ranks exactly as it does on its own).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from labcoat.tasks.recommend.candidates import MostPopular, Training
    >>> x = Training(sp.csr_matrix(np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])))
    >>> popular = MostPopular().fit(x)
    >>> blend_scores([popular], [1.0], np.array([0])).tolist()
    [[2.0, 1.0, 1.0]]
    """
    used = [(m, w) for m, w in zip(members, weights) if w > 0]
    if len(used) == 1:
        return used[0][0].score(users)
    total = np.zeros((len(users), 0), dtype=np.float32)
    for i, (member, weight) in enumerate(used):
        part = np.float32(weight) * standardise(member.score(users))
        total = part if i == 0 else total + part
    return total


def weight_grid(n: int, step: float = 0.25) -> list[tuple[float, ...]]:
    """Every weight vector of ``n`` members on the simplex with the given ``step``, the pure
    ones included, the first member's largest first."""
    ticks = int(round(1 / step))
    grid = [tuple(c * step for c in combo) for combo in product(range(ticks, -1, -1), repeat=n)
            if sum(combo) == ticks]
    return grid
