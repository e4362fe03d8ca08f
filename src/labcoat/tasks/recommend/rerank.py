"""A LightGBM lambdarank re-ranker over the union of several recommenders' top items.

For each user, the candidates are the union of every member's top :data:`DEPTH` items (seen
items excluded); each (user, candidate) pair is described by every member's standardised
score and rank, the item's popularity and the user's activity, and LightGBM's lambdarank
orders them. It learns on the validation holdout (members fitted on the validation's
training part), so it is honest to score it on the test; items outside the union keep the
first member's order below every candidate.

Examples
--------
>>> import scipy.sparse as sp
>>> from labcoat.tasks.recommend.candidates import ItemKNN, MostPopular, Training
>>> rng = np.random.default_rng(0)
>>> x = sp.csr_matrix((rng.random((60, 25)) < 0.3).astype(np.float32))
>>> train, truth = x.multiply(rng.random(x.shape) < 0.7).tocsr(), None
>>> members = [m.fit(Training(train)) for m in (MostPopular(), ItemKNN(k=10))]
>>> ranker = fit_reranker(members, train, (x - train).tocsr(), np.arange(60), seed=0)
>>> ranker.score(np.arange(3)).shape
(3, 25)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from labcoat.tasks.recommend.blend import standardise
from labcoat.tasks.recommend.candidates import Recommender, Training
from labcoat.tasks.recommend.metrics import exclude, top_items

#: Each member's top items that enter the union of candidates.
DEPTH = 50
#: LightGBM's settings: small, as the features are few and the validation users not many.
PARAMS: dict[str, Any] = {"objective": "lambdarank", "n_estimators": 150, "learning_rate": 0.05, "num_leaves": 15,
          "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.9,
          "verbose": -1}


class Reranker(Recommender):
    """Members fitted elsewhere, and a LightGBM ranker over their candidates."""

    name = "rerank"
    needs = "lightgbm"

    def __init__(self, members: Sequence[Recommender] = (), booster: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.members, self.booster = list(members), booster

    def _fit(self, training: Training) -> None:
        for member in self.members:
            member.fit(training)

    def score(self, users: np.ndarray) -> np.ndarray:
        seen = self.members[0].history(users)
        features, rows, items = candidate_features(self.members, users, seen)
        base = standardise(self.members[0].score(users))
        # Below every candidate, the first member's order (so deeper cuts stay sensible).
        out = base - (np.abs(base).max() + 10.0 if base.size else 0.0) - 1e3
        if len(rows):
            out[rows, items] = self.booster.predict(features).astype(np.float32)
        return out.astype(np.float32)

    def similarity(self, item: int) -> np.ndarray | None:
        for member in self.members:
            found = member.similarity(item)
            if found is not None:
                return found
        return None


def candidate_features(members: Sequence[Recommender], users: np.ndarray,
                       seen: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (user, item) candidates of ``users`` (positions in ``users``, item codes) and their
    features: per member its standardised score and its rank; the item's popularity and the
    user's activity (both log counts, from the first member's training matrix)."""
    local = sp.csr_matrix(seen)
    scores, ranks = [], []
    for member in members:
        s = standardise(member.score(users))
        exclude(s, local, np.arange(len(users)))
        top = top_items(s, DEPTH)
        # The rank within the member's top DEPTH, DEPTH + 1 beyond it (no full sort of the catalogue).
        rank = np.full(s.shape, DEPTH + 1, dtype=np.int16)
        np.put_along_axis(rank, top, np.arange(1, top.shape[1] + 1, dtype=np.int16)[None, :], axis=1)
        scores.append(s)
        ranks.append(rank)
    mask = np.logical_or.reduce([rank <= DEPTH for rank in ranks])
    for s in scores:
        mask &= np.isfinite(s)  # a seen item is never a candidate
    rows, items = np.nonzero(mask)
    matrix = members[0].matrix_
    assert matrix is not None
    popularity = np.log1p(np.asarray((matrix > 0).sum(axis=0)).ravel())
    activity = np.log1p(np.diff(local.indptr))
    columns = []
    for s, rank in zip(scores, ranks):
        columns += [s[rows, items], np.log(rank[rows, items].astype(np.float32))]
    columns += [popularity[items], activity[rows]]
    return np.column_stack(columns).astype(np.float32), rows, items


def fit_reranker(members: Sequence[Recommender], train: sp.csr_matrix, truth: sp.csr_matrix, users: np.ndarray, *,
                 seed: int, threads: int = 1) -> Reranker:
    """A :class:`Reranker` learned on ``users``' held-out preferences ``truth``, the members
    fitted on ``train``."""
    import lightgbm

    features, rows, items = candidate_features(members, users, train[users])
    labels = np.asarray(truth[users[rows], items]).ravel() > 0
    order = np.argsort(rows, kind="stable")  # lambdarank wants each user's rows together
    groups = np.bincount(rows, minlength=len(users))
    ranker = lightgbm.LGBMRanker(**PARAMS, random_state=seed, n_jobs=threads)
    ranker.fit(features[order], labels[order].astype(int), group=groups[groups > 0])
    return Reranker(members=members, booster=ranker)
