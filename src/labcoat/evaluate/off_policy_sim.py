"""A simulated recommender with known truth, to check off-policy estimators.

Users × items under the **position-based click model** (PBM): a user clicks the item at
position ``j`` with probability ``examination[j] * attractiveness[user, item]``, independently
across positions. This satisfies the independent item-position assumption of
:mod:`labcoat.evaluate.off_policy`, so its estimators are unbiased here, and the true value of
any policy is exact: ``mean_u Σ_j Σ_a P_π(a at j | u) · examination[j] · attractiveness[u, a]``
from the policy's item-position marginals.

Attractiveness comes from a low-rank logit (users and items with a few latent factors);
a "model" is the true logit plus Gaussian noise, fixed per (user, item): the larger the
noise, the worse the model. Policies are anything with ``rank``/``marginals`` (the
exploration policies of ``labcoat.serve.explore``; this layer cannot import them).

Examples
--------
>>> world = ClickWorld.make(n_users=20, n_items=10, k=3, seed=0)
>>> world.attractiveness.shape, world.examination.round(3).tolist()
((20, 10), [1.0, 0.5, 0.333])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd


class RankingPolicy(Protocol):
    """What the simulation needs of a policy (see ``labcoat.serve.explore``)."""

    def rank(self, scores: np.ndarray, k: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]: ...

    def marginals(self, scores: np.ndarray, k: int) -> np.ndarray: ...


@dataclass(frozen=True)
class ClickWorld:
    """True click probabilities: ``examination[j] * attractiveness[user, item]``.

    Examples
    --------
    >>> world = ClickWorld(np.array([[0.5, 0.1]]), np.array([1.0, 0.5]))
    >>> world.k
    2
    """

    attractiveness: np.ndarray  # (users, items), in (0, 1)
    examination: np.ndarray  # (k,), decreasing

    @property
    def k(self) -> int:
        """The list length."""
        return len(self.examination)

    @classmethod
    def make(cls, *, n_users: int = 100, n_items: int = 30, k: int = 5, factors: int = 3,
             seed: int = 0) -> ClickWorld:
        """A random world: examination ``1 / (1 + j)``; attractiveness from a low-rank logit
        centred at -2 (about 12% for an average pair, up to ~70% for the best ones).

        Examples
        --------
        >>> world = ClickWorld.make(n_users=5, n_items=4, k=2)
        >>> bool((world.attractiveness > 0).all() and (world.attractiveness < 1).all())
        True
        """
        rng = np.random.default_rng(seed)
        users = rng.normal(size=(n_users, factors))
        items = rng.normal(size=(n_items, factors))
        logit = -2.0 + users @ items.T / np.sqrt(factors)
        return cls(1 / (1 + np.exp(-logit)), 1 / (1 + np.arange(k)))

    def scores(self, noise: float, seed: int) -> np.ndarray:
        """A model's scores: the true logit plus ``N(0, noise²)`` per (user, item).

        Examples
        --------
        >>> world = ClickWorld.make(n_users=3, n_items=4, k=2)
        >>> world.scores(0.5, seed=1).shape
        (3, 4)
        """
        logit = np.log(self.attractiveness / (1 - self.attractiveness))
        return logit + noise * np.random.default_rng(seed).normal(size=logit.shape)

    def true_value(self, policy: RankingPolicy, scores: np.ndarray) -> float:
        """Exact expected clicks per request (users uniform) of ``policy`` over ``scores``.

        Examples
        --------
        >>> class First:  # always shows items 0 then 1
        ...     def marginals(self, scores, k):
        ...         return np.eye(len(scores), k)
        >>> world = ClickWorld(np.array([[0.5, 0.2, 0.9]]), np.array([1.0, 0.5]))
        >>> world.true_value(First(), np.zeros((1, 3)))  # 1.0 * 0.5 + 0.5 * 0.2
        0.6
        """
        total = 0.0
        for user in range(len(scores)):
            marginal = policy.marginals(scores[user], self.k)
            total += float(self.attractiveness[user] @ marginal @ self.examination)
        return total / len(scores)

    def simulate_log(self, logging: RankingPolicy, logging_scores: np.ndarray,
                     target: RankingPolicy, target_scores: np.ndarray, n_requests: int,
                     rng: np.random.Generator) -> pd.DataFrame:
        """A log as the service writes it, plus the target's propensity of each row.

        Each request is a uniformly random user; ``logging.rank`` picks the list and its
        propensities; clicks follow the PBM. The target's propensity is looked up in its
        marginals per user (computed once; the same numbers as its ``propensity``).

        Examples
        --------
        >>> class First:
        ...     def rank(self, scores, k, rng):
        ...         return np.arange(k), np.ones(k)
        ...     def marginals(self, scores, k):
        ...         return np.eye(len(scores), k)
        >>> world = ClickWorld.make(n_users=3, n_items=4, k=2)
        >>> log = world.simulate_log(First(), world.scores(1, 0), First(), world.scores(1, 0), 5,
        ...                          np.random.default_rng(0))
        >>> log.columns.tolist(), len(log)
        (['request', 'user', 'position', 'item', 'reward', 'propensity', 'target_propensity'], 10)
        """
        k = self.k
        n_users = len(logging_scores)
        target_marginals = np.stack([target.marginals(target_scores[u], k) for u in range(n_users)])
        users = rng.integers(n_users, size=n_requests)
        items = np.empty((n_requests, k), dtype=np.int64)
        propensities = np.empty((n_requests, k))
        for request, user in enumerate(users):
            items[request], propensities[request] = logging.rank(logging_scores[user], k, rng)
        positions = np.broadcast_to(np.arange(k), items.shape)
        user_rows = np.broadcast_to(users[:, None], items.shape)
        click = rng.random(items.shape) < self.examination * self.attractiveness[user_rows, items]
        return pd.DataFrame({
            "request": np.repeat(np.arange(n_requests), k),
            "user": user_rows.ravel(),
            "position": positions.ravel(),
            "item": items.ravel(),
            "reward": click.ravel().astype(np.float64),
            "propensity": propensities.ravel(),
            "target_propensity": target_marginals[user_rows, items, positions].ravel(),
        })
