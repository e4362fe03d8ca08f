"""Exploration policies: which k items a recommendation request shows, and with what probability.

Every policy ranks one request's candidate items from a model's ``scores`` (one per
candidate, higher is better) and has three methods:

- ``rank(scores, k, rng) -> (items, propensities)``: the shown list, ``items[j]`` at position
  ``j``, and for each the probability that the policy shows that item at that position;
- ``propensity(scores, k, items)``: the same probabilities for a list some *other* policy
  showed (what off-policy evaluation of this policy on old logs needs);
- ``marginals(scores, k)``: the whole ``(n_items, k)`` matrix of those probabilities.

The propensity is the **item-position marginal** ``P(item a shown at position j)``, not the
probability of the whole list. Off-policy estimators under the independent item-position
(IIPS / position-based) assumption, :mod:`labcoat.evaluate.off_policy`, need exactly this: the
reward at a position depends on the item there, so a weight per (item, position) suffices,
and such weights stay moderate where whole-list probabilities (products over k positions)
would be vanishingly small.

Ties in ``scores`` are broken by the lower candidate index, so every policy is deterministic
given its random draws. With fewer candidates than ``k``, the list has all of them.

Examples
--------
>>> policy = parse_explore("0.1")
>>> items, propensities = policy.rank(np.array([0.2, 0.9, 0.5, 0.1]), 2, np.random.default_rng(0))
>>> items.tolist(), propensities.round(3).tolist()
([1, 2], [0.925, 0.865])
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from labcoat.errors import ConfigError

EXPLORE_FORMS = "nothing (greedy), a rate in [0, 1) such as '0.05' (epsilon-greedy) or 'thompson'"


def _check(scores: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not np.isfinite(scores).all():
        raise ValueError("The scores must be a 1-D array of finite numbers, one per candidate "
                         "item.")
    if k < 1:
        raise ConfigError(f"The list length k must be at least 1. Got {k}.")
    return scores, min(k, len(scores))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best candidates by score, best first, ties to the lower index, in O(n).

    Examples
    --------
    >>> top_k(np.array([0.3, 0.9, 0.3, 0.5]), 3).tolist()
    [1, 3, 0]
    """
    if k >= len(scores):
        return np.lexsort((np.arange(len(scores)), -scores))
    # The k-th largest value, then the candidates strictly above it and the lowest-index ties.
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    above = np.flatnonzero(scores > kth)
    tied = np.flatnonzero(scores == kth)[:k - len(above)]
    chosen = np.concatenate([above, tied])
    return chosen[np.lexsort((chosen, -scores[chosen]))]


@dataclass(frozen=True)
class Greedy:
    """Show the top ``k`` by score: each shown item at its position with probability 1.

    Examples
    --------
    >>> Greedy().rank(np.array([0.1, 0.7, 0.4]), 2, np.random.default_rng(0))[0].tolist()
    [1, 2]
    >>> Greedy().propensity(np.array([0.1, 0.7, 0.4]), 2, np.array([1, 0])).tolist()
    [1.0, 0.0]
    """

    def describe(self) -> str:
        """The policy in words, as logged with every list it shows."""
        return "greedy"

    def rank(self, scores: np.ndarray, k: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` and their propensities (all 1)."""
        scores, k = _check(scores, k)
        return top_k(scores, k), np.ones(k)

    def propensity(self, scores: np.ndarray, k: int, items: np.ndarray) -> np.ndarray:
        """1 where ``items[j]`` is the ``j``-th best, else 0."""
        scores, k = _check(scores, k)
        items = np.asarray(items)
        best = top_k(scores, k)
        return (items == best[:len(items)]).astype(np.float64)

    def marginals(self, scores: np.ndarray, k: int) -> np.ndarray:
        """The ``(n_items, k)`` matrix of ``P(item at position)``: one 1 per column."""
        scores, k = _check(scores, k)
        matrix = np.zeros((len(scores), k))
        matrix[top_k(scores, k), np.arange(k)] = 1.0
        return matrix


@lru_cache(maxsize=64)
def _epsilon_table(epsilon: float, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact marginals of slot-by-slot epsilon-greedy, which depend only on ranks.

    Returns ``head`` with ``head[r, j] = P(the rank-r item is at position j)`` for ``r < k``,
    and ``tail[j]``, the same for any one item of rank ``k`` or worse (they are exchangeable:
    greedy never reaches them within ``k`` slots, since at most ``j < k`` items are shown before
    slot ``j``). For rank ``r`` the chain ``(a, b)`` = (how many of ranks ``0..r-1`` are shown,
    whether ``r`` is shown) is Markov: a greedy slot takes the best unshown item, so it adds one
    of ``0..r-1`` while ``a < r``, then ``r``; a random slot takes each of the ``n - j`` unshown
    items with probability ``1 / (n - j)``. O(k³) once per ``(epsilon, n, k)``.
    """
    head = np.zeros((k, k))
    for r in range(k):
        state = np.zeros((r + 1, 2))  # state[a, b], before the current slot
        state[0, 0] = 1.0
        better = np.arange(r, -1, -1)  # r - a: unshown items better than r
        for j in range(k):
            remaining = n - j
            head[r, j] = (1 - epsilon) * state[r, 0] + epsilon * state[:, 0].sum() / remaining
            new = np.zeros_like(state)
            # A greedy slot: the best unshown of 0..r-1 while one is left, then r, then others.
            new[1:] += (1 - epsilon) * state[:-1]
            new[r, 1] += (1 - epsilon) * (state[r, 0] + state[r, 1])
            # A random slot: an unshown better rank, r itself, or any other item.
            p_better = better / remaining
            new[1:] += epsilon * p_better[:-1, None] * state[:-1]
            new[:, 1] += epsilon * state[:, 0] / remaining
            p_other = 1 - p_better[:, None] - np.array([1.0, 0.0])[None, :] / remaining
            new += epsilon * p_other * state
            state = new
    tail = np.zeros(k)
    shown = 0.0
    for j in range(k):
        tail[j] = epsilon * (1 - shown) / (n - j)
        shown += tail[j]
    return head, tail


@dataclass(frozen=True)
class EpsilonGreedy:
    """Slot by slot: with probability ``epsilon`` a uniformly random not-yet-shown candidate,
    else the best remaining one.

    Every candidate has a positive probability at every position (``epsilon > 0``), so logs
    from this policy support evaluating any other: the reason for exploring slot by slot
    rather than, say, swapping a random item into a fixed greedy slot (the top items would
    then never be seen at other positions, and a new model's list could not be evaluated).
    The propensities are exact (see :func:`_epsilon_table`); they depend on the scores only
    through the ranks.

    Examples
    --------
    >>> policy = EpsilonGreedy(0.2)
    >>> scores = np.array([0.1, 0.7, 0.4, 0.3])
    >>> policy.marginals(scores, 2).sum(axis=0).round(12).tolist()  # one item per position
    [1.0, 1.0]
    >>> round(float(policy.propensity(scores, 2, np.array([1, 2]))[0]), 3)  # 0.8 + 0.2 / 4
    0.85
    """

    epsilon: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon < 1.0:
            raise ConfigError(f"The exploration rate must be in [0, 1). Got {self.epsilon}.")

    def describe(self) -> str:
        """The policy in words, as logged with every list it shows."""
        return f"epsilon-greedy {self.epsilon:g}"

    def _probabilities(self, scores: np.ndarray, k: int, items: np.ndarray,
                       best: np.ndarray) -> np.ndarray:
        head, tail = _epsilon_table(float(self.epsilon), len(scores), k)
        positions = np.arange(len(items))
        # rank of each item among the top k, or k for the tail
        match = items[:, None] == best[None, :]
        rank = np.where(match.any(axis=1), match.argmax(axis=1), k)
        return np.where(rank < k, head[np.minimum(rank, k - 1), positions], tail[positions])

    def rank(self, scores: np.ndarray, k: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Sample a list; the exact item-position propensities with it."""
        scores, k = _check(scores, k)
        n = len(scores)
        best = top_k(scores, k)
        shown = np.empty(k, dtype=np.int64)
        taken: set[int] = set()
        explore = rng.random(k) < self.epsilon
        next_best = 0
        for j in range(k):
            if explore[j]:
                # Rejection from all candidates: at most k are taken, so few retries when
                # n >> k; with n close to k, draw from the rest directly.
                if n > 4 * k:
                    item = int(rng.integers(n))
                    while item in taken:
                        item = int(rng.integers(n))
                else:
                    rest = np.setdiff1d(np.arange(n), shown[:j])
                    item = int(rest[rng.integers(len(rest))])
            else:
                # The best remaining is in the top k: fewer than k items are taken.
                while int(best[next_best]) in taken:
                    next_best += 1
                item = int(best[next_best])
            shown[j] = item
            taken.add(item)
        return shown, self._probabilities(scores, k, shown, best)

    def propensity(self, scores: np.ndarray, k: int, items: np.ndarray) -> np.ndarray:
        """Exact ``P(items[j] at position j)`` for each ``j``."""
        scores, k = _check(scores, k)
        return self._probabilities(scores, k, np.asarray(items)[:k], top_k(scores, k))

    def marginals(self, scores: np.ndarray, k: int) -> np.ndarray:
        """The exact ``(n_items, k)`` matrix of ``P(item at position)``."""
        scores, k = _check(scores, k)
        head, tail = _epsilon_table(float(self.epsilon), len(scores), k)
        matrix = np.tile(tail, (len(scores), 1))
        matrix[top_k(scores, k)] = head
        return matrix


@dataclass(frozen=True, eq=False)  # eq on an array field would be ambiguous
class Thompson:
    """Thompson sampling: draw each candidate's score from a Gaussian posterior, show the top k.

    The model's score is the posterior mean; the posterior standard deviation of candidate
    ``i`` is ``scale * spread / sqrt(1 + impressions[i])``, where ``spread`` is the standard
    deviation of the request's scores (so ``scale`` is free of the model's score units) and
    ``impressions`` counts how often the item was shown (the catalogue indexed like the
    scores; ``None``: never shown). Items seen often are explored less, which is what a
    Gaussian posterior over a mean with one observation per impression would do.

    Sampling is among the ``shortlist`` best candidates by score (a candidate far below the
    k-th would almost never be drawn into the list, and restricting keeps a request cheap);
    the others have propensity 0. The item-position propensity has no closed form: it is the
    share of ``draws`` independent posterior samples that put the item at that position,
    floored at ``0.5 / draws`` (a shown item cannot have probability 0, and the floor bounds
    its weight by ``2 * draws``). Its Monte Carlo standard error is at most
    ``0.5 / sqrt(draws)``; :meth:`propensity` uses ``seed`` so that repeated evaluations agree.
    The defaults (256 draws of a 50-item shortlist) keep a request with 10,000 candidates and
    k=10 at about 0.3 ms on one core; more draws cost proportionally more. Since ``1 / p̂`` is
    biased upwards when ``p̂`` is noisy, off-policy estimates from Thompson-logged data carry
    a bias that shrinks with ``draws``; epsilon-greedy's propensities are exact.

    Examples
    --------
    >>> policy = Thompson(scale=0.1)
    >>> scores = np.array([3.0, 0.0, 1.0, 2.0])
    >>> policy.rank(scores, 2, np.random.default_rng(0))[0].tolist()
    [0, 3]
    >>> policy.propensity(scores, 2, np.array([0, 3])).round(2).tolist()
    [1.0, 1.0]
    """

    scale: float = 0.5
    impressions: np.ndarray | None = None
    draws: int = 256
    shortlist: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.scale > 0 or self.draws < 1 or self.shortlist < 1:
            raise ConfigError("Thompson needs scale > 0, draws >= 1 and shortlist >= 1. "
                              f"Got scale={self.scale}, draws={self.draws}, "
                              f"shortlist={self.shortlist}.")

    def describe(self) -> str:
        """The policy in words, as logged with every list it shows."""
        return f"thompson (scale {self.scale:g}, {self.draws} draws of the {self.shortlist} best)"

    def _orders(self, rng: np.random.Generator, scores: np.ndarray, k: int,
                n_draws: int) -> tuple[np.ndarray, np.ndarray]:
        """(shortlist, orders): ``orders[d]``, draw ``d``'s list as indices into the shortlist."""
        short = top_k(scores, min(max(self.shortlist, k), len(scores)))
        spread = float(scores.std()) or 1.0  # all scores equal: any positive unit will do
        std = np.full(len(short), self.scale * spread)
        if self.impressions is not None:
            std /= np.sqrt(1.0 + np.asarray(self.impressions, dtype=np.float64)[short])
        samples = scores[short] + std * rng.standard_normal((n_draws, len(short)))
        # Top k of each draw: partition, then sort those k (ties have probability 0).
        part = np.argpartition(-samples, k - 1, axis=1)[:, :k] if len(short) > k else \
            np.broadcast_to(np.arange(len(short)), samples.shape)
        within = np.argsort(-np.take_along_axis(samples, part, axis=1), axis=1)
        return short, np.take_along_axis(part, within, axis=1)

    def _shares(self, short: np.ndarray, orders: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Share of the draws in ``orders`` with ``items[j]`` at position ``j``."""
        k = orders.shape[1]
        counts = np.zeros((len(short), k))
        np.add.at(counts, (orders, np.broadcast_to(np.arange(k), orders.shape)), 1.0)
        match = items[:, None] == short[None, :]
        share = counts[match.argmax(axis=1), np.arange(len(items))] / len(orders)
        return np.where(match.any(axis=1), share, 0.0)

    def rank(self, scores: np.ndarray, k: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One posterior draw's top ``k``; Monte Carlo propensities from ``draws`` others."""
        scores, k = _check(scores, k)
        short, orders = self._orders(rng, scores, k, self.draws + 1)
        shown = short[orders[0]]
        return shown, np.maximum(self._shares(short, orders[1:], shown), 0.5 / self.draws)

    def propensity(self, scores: np.ndarray, k: int, items: np.ndarray) -> np.ndarray:
        """Monte Carlo ``P(items[j] at position j)``; 0 outside the shortlist, no floor (a
        target policy may well never show a logged item there)."""
        scores, k = _check(scores, k)
        short, orders = self._orders(np.random.default_rng(self.seed), scores, k, self.draws)
        return self._shares(short, orders, np.asarray(items)[:k])

    def marginals(self, scores: np.ndarray, k: int) -> np.ndarray:
        """The Monte Carlo ``(n_items, k)`` matrix of ``P(item at position)``, no floor."""
        scores, k = _check(scores, k)
        short, orders = self._orders(np.random.default_rng(self.seed), scores, k, self.draws)
        matrix = np.zeros((len(scores), k))
        positions = np.broadcast_to(np.arange(k), orders.shape)
        np.add.at(matrix, (short[orders], positions), 1.0 / self.draws)
        return matrix


Policy = Greedy | EpsilonGreedy | Thompson


def parse_explore(value: str | None) -> Policy:
    """The policy for the ``--explore`` option: none, an epsilon-greedy rate, or ``thompson``.

    Examples
    --------
    >>> parse_explore(None), parse_explore("0.05")
    (Greedy(), EpsilonGreedy(epsilon=0.05))
    >>> parse_explore("sometimes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labcoat.errors.ConfigError: --explore 'sometimes' is not understood. Give nothing (greedy), ...
    """
    if value is None:
        return Greedy()
    text = value.strip().lower()
    if text == "thompson":
        return Thompson()
    try:
        rate = float(text)
    except ValueError:
        rate = float("nan")
    if not 0.0 <= rate < 1.0:  # NaN fails too
        raise ConfigError(f"--explore {value!r} is not understood. Give {EXPLORE_FORMS}.")
    return EpsilonGreedy(rate) if rate > 0 else Greedy()
