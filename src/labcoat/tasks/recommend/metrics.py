"""Ranking quality over the full catalogue: every item is ranked for every user (no sampled
negatives), the items the user met in training left out.

Per user: NDCG@10, Recall@20 (held-out preferences found in the top 20 / all held-out
preferences), MAP@10 (average precision at the hits, over ``min(10, held-out)``), hit rate@10
(at least one hit), and the popularity of what was recommended (the mean popularity percentile
of the top 10: 100 is the most popular item). Over all users: catalogue coverage@10 (share of
the items recommended to someone). Each comes with a 95% percentile bootstrap interval over
users, and the per-user vectors are kept for paired tests between recommenders.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> train = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
>>> test = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float32))
>>> scores = lambda users: np.tile(np.array([4.0, 3.0, 2.0, 1.0], dtype=np.float32), (len(users), 1))
>>> result = evaluate(scores, train, test, np.array([0, 1]))
>>> [round(float(v), 3) for v in result.per_user["ndcg@10"]]
[1.0, 0.5]
>>> round(result.scores["hit_rate@10"].value, 2), round(result.scores["coverage@10"].value, 2)
(1.0, 1.0)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from labcoat.evaluate.stats import CONFIDENCE, Comparison, paired_test

#: The cut-offs.
K, RECALL_K = 10, 20
#: The metrics per user, and the one models are chosen by.
PER_USER = ("ndcg@10", "recall@20", "map@10", "hit_rate@10", "popularity@10")
MAIN = "ndcg@10"
#: Users scored at once (bounds memory: chunk × items float32 scores).
CHUNK_CELLS = 20_000_000
BOOTSTRAP_ROUNDS = 200

Scorer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Score:
    """A metric's value with its 95% bootstrap interval over users."""

    name: str
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Evaluation:
    """The scores of one recommender on a holdout, and the per-user values behind them."""

    users: np.ndarray
    per_user: dict[str, np.ndarray]
    scores: dict[str, Score]
    top: np.ndarray  #: users × K recommended item codes

    def value(self, name: str = MAIN) -> float:
        return self.scores[name].value


def chunk_size(n_items: int) -> int:
    """Users scored at once so that one chunk's scores stay under :data:`CHUNK_CELLS` cells.

    Examples
    --------
    >>> chunk_size(10_000), chunk_size(100)
    (2000, 4096)
    """
    return max(1, min(4096, CHUNK_CELLS // max(n_items, 1)))


def top_items(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` highest-scored columns, best first (argpartition, then a sort of ``k``).

    Examples
    --------
    >>> top_items(np.array([[0.1, 0.9, 0.5], [3.0, 1.0, 2.0]]), 2).tolist()
    [[1, 2], [0, 2]]
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def exclude(scores: np.ndarray, seen: sp.csr_matrix, users: np.ndarray) -> None:
    """Set the scores of the items each of ``users`` has met (``seen`` rows) to -inf, in place.

    Examples
    --------
    >>> scores = np.ones((1, 3))
    >>> exclude(scores, sp.csr_matrix(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])), np.array([1]))
    >>> scores.tolist()
    [[-inf, 1.0, 1.0]]
    """
    rows = seen[users]
    scores[np.repeat(np.arange(len(users)), np.diff(rows.indptr)), rows.indices] = -np.inf


def popularity_percentile(train: sp.csr_matrix) -> np.ndarray:
    """Each item's popularity percentile in ``train`` (0-100, ties averaged): 100 for the most
    interacted-with item.

    Examples
    --------
    >>> popularity_percentile(sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0]]))).tolist()
    [100.0, 50.0, 0.0]
    """
    counts = np.diff(train.tocsc().indptr)
    order = np.argsort(counts, kind="stable")
    ranks = np.empty(len(counts))
    ranks[order] = np.arange(len(counts))
    # average the ranks of tied counts so that equally popular items share a percentile
    _, inverse = np.unique(counts, return_inverse=True)
    ranks = np.bincount(inverse, weights=ranks)[inverse] / np.bincount(inverse)[inverse]
    return 100.0 * ranks / max(len(counts) - 1, 1)


def evaluate(score: Scorer, train: sp.csr_matrix, test: sp.csr_matrix, users: np.ndarray, *,
             seen: sp.csr_matrix | None = None, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0,
             intervals: bool = True) -> Evaluation:
    """Score ``users`` with ``score`` (user codes -> users × items scores) against their held-out
    preferences ``test``, excluding the items in ``seen`` (default: ``train``); see the module
    docstring."""
    seen = train if seen is None else seen
    n_items = train.shape[1]
    popularity = popularity_percentile(train)
    test = test.tocsr()
    tops: list[np.ndarray] = []
    step = chunk_size(n_items)
    for start in range(0, len(users), step):
        chunk = users[start:start + step]
        scores = np.asarray(score(chunk), dtype=np.float32)
        exclude(scores, seen, chunk)
        tops.append(top_items(scores, RECALL_K))
    top = np.concatenate(tops) if tops else np.zeros((0, RECALL_K), dtype=int)
    per_user = ranking_metrics(top, test[users], popularity)
    top10 = top[:, :K]
    scores_ = {name: _summary(name, values, rounds, seed, intervals) for name, values in per_user.items()}
    scores_["coverage@10"] = _coverage(top10, n_items, rounds, seed, intervals)
    return Evaluation(users=users, per_user=per_user, scores=scores_, top=top10)


def ranking_metrics(top: np.ndarray, relevant: sp.csr_matrix, popularity: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user metrics of the ranked lists ``top`` (users × 20 item codes, best first) against
    the rows of ``relevant`` (one per user, in the same order)."""
    n_users, depth = top.shape
    relevant = relevant.tocsr()
    n_relevant = np.diff(relevant.indptr)
    # A hit when (user, item) is in ``relevant``: look the pairs up as one sorted key array.
    n_items = relevant.shape[1]
    keys = np.repeat(np.arange(n_users, dtype=np.int64), n_relevant) * n_items + relevant.indices
    asked = np.arange(n_users, dtype=np.int64)[:, None] * n_items + top
    keys.sort()
    if not len(keys):
        keys = np.array([-1], dtype=np.int64)  # nothing is relevant: no pair can match
    where = np.searchsorted(keys, asked.ravel())
    hits = (where < len(keys)) & (keys[np.minimum(where, len(keys) - 1)] == asked.ravel())
    hits = hits.reshape(n_users, depth)
    k = min(K, depth)
    discounts = 1.0 / np.log2(np.arange(2, depth + 2))
    dcg = (hits[:, :k] * discounts[:k]).sum(axis=1)
    ideal = np.cumsum(discounts[:k])[np.minimum(n_relevant, k) - 1]
    precision = np.cumsum(hits[:, :k], axis=1) / np.arange(1, k + 1)
    safe = np.maximum(n_relevant, 1)
    return {
        "ndcg@10": dcg / ideal,
        "recall@20": hits[:, :RECALL_K].sum(axis=1) / safe,
        "map@10": (precision * hits[:, :k]).sum(axis=1) / np.minimum(safe, k),
        "hit_rate@10": hits[:, :k].any(axis=1).astype(float),
        "popularity@10": popularity[top[:, :k]].mean(axis=1) if len(popularity) else np.zeros(n_users),
    }


def user_bootstrap(values: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0,
                   confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-user ``values`` (users resampled).

    Examples
    --------
    >>> low, high = user_bootstrap(np.random.default_rng(0).normal(1.0, 1.0, 400))
    >>> bool(low < 1.0 < high)
    True
    """
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    # Multinomial counts per round: a draw's mean is counts @ values / n, no copies of values.
    counts = rng.multinomial(len(values), np.full(len(values), 1 / len(values)), size=rounds)
    means = counts @ values / len(values)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def _summary(name: str, values: np.ndarray, rounds: int, seed: int, intervals: bool) -> Score:
    mean = float(values.mean()) if len(values) else float("nan")
    low, high = user_bootstrap(values, rounds, seed) if intervals else (float("nan"), float("nan"))
    return Score(name, mean, low, high)


def _coverage(top: np.ndarray, n_items: int, rounds: int, seed: int, intervals: bool) -> Score:
    """Share of the catalogue in someone's top 10, with the bootstrap over users."""
    value = len(np.unique(top)) / n_items if top.size else float("nan")
    if not intervals or len(top) < 2:
        return Score("coverage@10", value, float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    shares = []
    for _ in range(rounds):
        covered = np.zeros(n_items, dtype=bool)
        covered[top[rng.integers(0, len(top), len(top))].ravel()] = True
        shares.append(covered.sum() / n_items)
    tail = (1 - CONFIDENCE) / 2
    # Resampling users can only repeat lists, never add items: the bootstrap is biased low, so
    # the interval is widened to include the value itself.
    low, high = float(np.quantile(shares, tail)), float(np.quantile(shares, 1 - tail))
    return Score("coverage@10", value, min(low, value), max(high, value))


def paired(a: np.ndarray, b: np.ndarray) -> Comparison:
    """Paired t-test over users of two recommenders' per-user values ``a`` and ``b`` (the
    same users, in the same order): :func:`labcoat.evaluate.stats.paired_test` with no
    resampling correction, as each user is scored once.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> b = rng.random(500)
    >>> paired(b + 0.05 + rng.normal(0, 0.1, 500), b).p_value < 0.001
    True
    """
    return paired_test(a.tolist(), b.tolist(), n_train=1.0, n_test=0.0)
