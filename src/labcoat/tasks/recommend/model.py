"""A fitted recommender: the chosen model (one candidate or a blend), refitted on every
interaction, with what cold start needs (popularity overall and per user segment, item
features).

Examples
--------
>>> from labcoat.datasets import make_interactions
>>> rows = make_interactions(n_users=300, n_items=80, n_interactions=6000, seed=1)
>>> model = fit_recommend(rows, user="user_id", item="item_id", time="timestamp", budget=10,
...                       candidates=["most_popular", "item_knn"], quiet=True)  # doctest: +SKIP
>>> model.recommend(["u0001"], k=3).columns.tolist()                            # doctest: +SKIP
['user', 'rank', 'item', 'score', 'reason']
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp

from labcoat import __version__
from labcoat.errors import ConfigError, DataError, LabcoatNotice, ModelFileError
from labcoat.tasks.saved_folder import load_saved, mlflow_type, write_mlmodel
from labcoat.tasks.recommend.blend import blend_scores
from labcoat.tasks.recommend.candidates import Recommender
from labcoat.tasks.recommend.metrics import chunk_size, top_items
from labcoat.tasks.recommend.metrics import exclude as drop_seen

#: Saved recommenders' folder format.
FORMAT_VERSION = 1
#: ``labcoat.json``'s ``kind`` for a recommender.
KIND = "recommend"
#: The ``reason`` of a cold-start user's recommendations.
COLD_USER = "cold start: popular"
#: The ``reason`` of the neighbours of an item found through its features.
COLD_ITEM = "cold start: similar features"


@dataclass
class RecommendModel:
    """What ``labcoat.fit(..., task="recommend")`` returns. :meth:`recommend` gives each user's
    top items, :meth:`similar_items` an item's neighbours; ``leaderboard`` holds every
    candidate's test scores with 95% intervals over users, and ``info`` what was decided."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    members: list[Recommender]
    weights: list[float]
    seen: sp.csr_matrix  #: users × items: the pairs met in the interactions (0/1)
    popularity: np.ndarray  #: each item's number of preferences
    leaderboard: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    #: Users table column that groups cold-start users, the segment of each user id in that
    #: table, and each segment's item popularity.
    segment: str | None = None
    user_segments: dict[Any, Any] = field(default_factory=dict)
    segment_popularity: dict[Any, np.ndarray] = field(default_factory=dict)
    #: Items table ids and their feature rows (for items without interactions).
    feature_ids: np.ndarray | None = None
    item_features: sp.csr_matrix | None = None
    #: Each test user's NDCG@10 of the chosen recommender (``"chosen"``) and of every candidate
    #: scored on the test, the same users in the same order (for ``labcoat compare``).
    user_ndcg: dict[str, np.ndarray] = field(default_factory=dict)
    ndcg_users: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))  #: those users' ids

    task = KIND

    @cached_property
    def _user_index(self) -> Any:
        """The user ids' hash index, built once (not on every request of the service)."""
        return pd.Index(self.user_ids)

    @cached_property
    def _item_index(self) -> Any:
        """The item ids' hash index, built once."""
        return pd.Index(self.item_ids)

    # ------------------------------------------------------------------ recommending
    def recommend(self, users: Any, k: int = 10, exclude_seen: bool = True,
                  items: Sequence[Any] | None = None) -> pd.DataFrame:
        """Each user's top ``k`` items, one row per (user, rank): ``user``, ``rank`` (1 is
        best), ``item``, ``score``, ``reason``.

        ``users`` is an id, a list of ids, or a frame with the user column (and, for users
        not met at fit, their segment column). ``exclude_seen`` leaves out the items a user
        already met; ``items`` restricts the recommendations to those item ids. Users with no
        interactions are cold start: the most popular items, among the users of their segment
        when it is known (``reason`` starts with ``"cold start: popular"``).
        """
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a whole number of items, at least 1; got {k!r}.")
        ids, given_segments = self._users(users)
        allowed = self._allowed(items)
        codes = self._user_index.get_indexer(ids)
        known = np.flatnonzero(codes >= 0)
        parts = [self._personal(ids[known], codes[known], k, exclude_seen, allowed)] if len(known) else []
        cold = np.flatnonzero(codes < 0)
        if len(cold):
            parts.append(self._cold(ids[cold], given_segments[cold], k, allowed))
        if not parts:
            return pd.DataFrame(columns=["user", "rank", "item", "score", "reason"])
        out = pd.concat(parts, ignore_index=True)
        order = pd.Index(pd.unique(ids)).get_indexer(out["user"])
        return out.iloc[np.lexsort((out["rank"].to_numpy(), order))].reset_index(drop=True)

    def _users(self, users: Any) -> tuple[np.ndarray, np.ndarray]:
        """The asked user ids and, for each, the segment given with it (None when not given)."""
        column = self.info.get("user", "user")
        if isinstance(users, pd.DataFrame):
            if column not in users.columns:
                raise DataError(f"The users frame has no {column!r} column, the user id column at fit.")
            ids = users[column].to_numpy()
            given = (users[self.segment].to_numpy(dtype=object) if self.segment and self.segment in users.columns
                     else np.full(len(ids), None, dtype=object))
            return ids, given
        if isinstance(users, (str, bytes)) or np.isscalar(users):
            users = [users]
        ids = np.asarray(list(users))
        return ids, np.full(len(ids), None, dtype=object)

    def _allowed(self, items: Sequence[Any] | None) -> np.ndarray | None:
        if items is None:
            return None
        codes = self._item_index.get_indexer(np.asarray(list(items)))
        if (codes < 0).all():
            raise DataError(f"None of the {len(codes)} items given in items= has interactions in the data the model "
                            f"was fitted on (e.g. {list(items)[0]!r}); it cannot rank them.")
        if (codes < 0).any():
            import warnings

            warnings.warn(f"{int((codes < 0).sum())} of the items given in items= have no interactions in the "
                          "fitted data and are left out.", LabcoatNotice, stacklevel=3)
        allowed = np.zeros(len(self.item_ids), dtype=bool)
        allowed[codes[codes >= 0]] = True
        return allowed

    def _personal(self, ids: np.ndarray, codes: np.ndarray, k: int, exclude_seen: bool,
                  allowed: np.ndarray | None) -> pd.DataFrame:
        reason = "personal: " + str(self.info.get("chosen", {}).get("name", "model"))
        tops, values = [], []
        for start in range(0, len(codes), chunk_size(len(self.item_ids))):
            chunk = codes[start:start + chunk_size(len(self.item_ids))]
            scores = np.array(blend_scores(self.members, self.weights, chunk), dtype=np.float32)
            if exclude_seen:
                drop_seen(scores, self.seen, chunk)
            if allowed is not None:
                scores[:, ~allowed] = -np.inf
            top = top_items(scores, k)
            tops.append(top)
            values.append(np.take_along_axis(scores, top, axis=1))
        return self._frame(ids, np.concatenate(tops), np.concatenate(values), reason)

    def _cold(self, ids: np.ndarray, given: np.ndarray, k: int, allowed: np.ndarray | None) -> pd.DataFrame:
        segments = np.array([g if g is not None else self.user_segments.get(u) for u, g in zip(ids, given)],
                            dtype=object)
        parts = []
        for value in pd.unique(segments):
            rows = np.flatnonzero(segments == value) if value is not None else \
                np.flatnonzero(np.array([s is None for s in segments]))
            popular, reason = self._popular(value)
            scores = popular[None, :]
            if allowed is not None:
                scores[:, ~allowed] = -np.inf
            top = top_items(scores, k)
            parts.append(self._frame(ids[rows], np.repeat(top, len(rows), axis=0),
                                     np.repeat(np.take_along_axis(scores, top, axis=1), len(rows), axis=0), reason))
        return pd.concat(parts, ignore_index=True)

    def _popular(self, segment: Any) -> tuple[np.ndarray, str]:
        """The item popularity a cold-start user of ``segment`` (None: unknown) is given, and why."""
        counts = self.segment_popularity.get(segment)
        reason = COLD_USER if counts is None else f"{COLD_USER} in {self.segment}={segment}"
        return np.array(self.popularity if counts is None else counts, dtype=np.float32), reason

    def user_scores(self, user: Any, *, items: Sequence[Any] | None = None, exclude: Sequence[Any] = (),
                    segment: Any = None, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
        """One user's candidate items and their scores, for a policy to rank (the service's
        exploration, off-policy replays): every item but those the user met at fit (unless not
        ``exclude_seen``), those in ``exclude`` and, when ``items`` is given, those not in it. A user not met at fit gets
        the popularity of ``segment`` (or of their segment in the users table); returns
        ``(item ids, scores, reason)``.

        Examples
        --------
        >>> ids, scores, reason = model.user_scores("u0001", exclude=["i0003"])  # doctest: +SKIP
        """
        code = int(self._user_index.get_indexer([user])[0])
        if code >= 0:
            scores = np.array(blend_scores(self.members, self.weights, np.array([code])), dtype=np.float64)
            if exclude_seen:
                drop_seen(scores, self.seen, np.array([code]))
            values, reason = scores[0], "personal: " + str(self.info.get("chosen", {}).get("name", "model"))
        else:
            popular, reason = self._popular(segment if segment is not None else self.user_segments.get(user))
            values = popular.astype(np.float64)
        keep = np.isfinite(values)
        if items is not None:
            allowed = self._allowed(items)
            assert allowed is not None
            keep &= allowed
        if len(exclude):
            dropped = self._item_index.get_indexer(pd.Index(list(exclude), dtype=object))
            keep[dropped[dropped >= 0]] = False
        return self.item_ids[keep], values[keep], reason

    def _frame(self, ids: np.ndarray, top: np.ndarray, values: np.ndarray, reason: str) -> pd.DataFrame:
        n, k = top.shape
        frame = pd.DataFrame({"user": np.repeat(ids, k), "rank": np.tile(np.arange(1, k + 1), n),
                              "item": self.item_ids[top.ravel()], "score": values.ravel().astype(float),
                              "reason": reason})
        return frame[np.isfinite(frame["score"].to_numpy())].reset_index(drop=True)  # -inf: excluded items

    # ------------------------------------------------------------------ similar items
    def similar_items(self, item: Any, k: int = 10) -> pd.DataFrame:
        """The ``k`` items most similar to ``item``: ``item``, ``rank``, ``similar_item``,
        ``score``, ``reason``. By the chosen model's item-item similarity (item factors of
        ALS/BPR, item-kNN or EASE weights, co-occurrence for popularity); an item without
        interactions that is in the ``items`` table gets its neighbours through its features
        (``reason`` :data:`COLD_ITEM`)."""
        code = int(self._item_index.get_indexer([item])[0])
        if code >= 0:
            similarity, reason = self._similarity(code)
            similarity = np.array(similarity, dtype=np.float64)
            similarity[code] = -np.inf
        elif self.feature_ids is not None and item in set(self.feature_ids.tolist()):
            similarity, reason = self._by_features(item), COLD_ITEM
        else:
            raise DataError(f"Item {item!r} is neither in the interactions nor in the items table the model was "
                            "fitted with; pass items= at fit to describe new items.")
        top = top_items(similarity[None, :], k)[0]
        top = top[np.isfinite(similarity[top])]
        return pd.DataFrame({"item": item, "rank": np.arange(1, len(top) + 1), "similar_item": self.item_ids[top],
                             "score": similarity[top], "reason": reason})

    def _similarity(self, code: int) -> tuple[np.ndarray, str]:
        order = np.argsort(self.weights)[::-1]
        for i in order:
            if self.weights[i] > 0:
                found = self.members[i].similarity(code)
                if found is not None:
                    return found, f"similar by {self.members[i].name}"
        seen = self.seen.tocsc()
        co = np.asarray((seen.T @ seen[:, code]).toarray()).ravel()
        norms = np.sqrt(np.diff(seen.indptr).astype(float)) + 1e-9
        return co / (norms * norms[code]), "similar by co-occurrence"

    def _by_features(self, item: Any) -> np.ndarray:
        assert self.item_features is not None and self.feature_ids is not None
        row = int(pd.Index(self.feature_ids).get_indexer([item])[0])
        cosine = np.asarray((self.item_features @ self.item_features[row].T).toarray()).ravel()
        # Only items with interactions can be recommended: map the table's rows to item codes.
        codes = self._item_index.get_indexer(self.feature_ids)
        similarity = np.full(len(self.item_ids), -np.inf)
        similarity[codes[codes >= 0]] = cosine[codes >= 0]
        return similarity

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the model to folder ``path``: ``labcoat.json`` (what it is, its info),
        ``leaderboard.csv``, ``model.joblib`` (the arrays) and an ``MLmodel`` that makes the
        folder an MLflow pyfunc model (:mod:`labcoat.tracking.recommend_pyfunc`)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": KIND, "format": FORMAT_VERSION, "labcoat": __version__, "format_version": FORMAT_VERSION,
                "labcoat_version": __version__, "task": KIND, **self.info}
        (folder / "labcoat.json").write_text(json.dumps(meta, indent=2, default=str))
        self.leaderboard.to_csv(folder / "leaderboard.csv", index=False)
        joblib.dump(self, folder / "model.joblib")
        write_mlmodel(folder, "labcoat.tracking.recommend_pyfunc",
                      inputs=[(str(self.info.get("user", "user")), mlflow_type(self.user_ids))]
                      + ([(self.segment, "string")] if self.segment else []),
                      params=[("k", "long", 10), ("exclude_seen", "boolean", True)])
        return folder

    @classmethod
    def load(cls, path: str | Path) -> RecommendModel:
        """The model saved in folder ``path`` (a :class:`ModelFileError` saying what is wrong)."""
        return load_saved(path, cls, kind=KIND, format_version=FORMAT_VERSION, what="a recommender")


def load(path: str | Path) -> RecommendModel:
    """The recommender saved in folder ``path`` (:meth:`RecommendModel.load`)."""
    return RecommendModel.load(path)


def is_recommend_folder(path: str | Path) -> bool:
    """Whether ``path`` is a saved recommender's folder."""
    meta = Path(path) / "labcoat.json"
    try:
        return meta.is_file() and json.loads(meta.read_text()).get("kind") == KIND
    except (OSError, ValueError):
        return False
