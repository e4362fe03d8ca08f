"""The recommenders searched: popularity, item-kNN, EASE, and matrix factorisation (ALS, BPR)
through ``implicit``.

Every candidate learns from a users × items matrix of preference weights
(:meth:`Recommender.fit`) and answers one question, :meth:`Recommender.score`: for some
users (codes), a users × items array of scores, higher is better (the caller excludes what
they have seen and chunks the users to bound memory). Each carries its defaults and its
search space (:meth:`Recommender.space`, for an Optuna trial). After fitting, the arrays that
score are plain numpy/scipy: a saved model needs neither Optuna nor ``implicit``.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=np.float32))
>>> knn = ItemKNN().fit(Training(x))
>>> [round(float(v), 3) for v in knn.score(np.array([2]))[0]]  # user 2 liked item 1, met with item 0
[0.161, 0.085, 0.085]
>>> MostPopular().fit(Training(x)).score(np.array([0])).tolist()
[[2.0, 3.0, 1.0]]
"""
from __future__ import annotations

import importlib.util
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from labcoat.errors import ConfigError, did_you_mean, listed

#: The extra that installs ``implicit``.
EXTRA = "pip install 'labcoat[recommend]'"
#: EASE inverts an items × items matrix: it is skipped when that float64 matrix would need more
#: than this share of the memory available, or beyond :data:`EASE_MAX_ITEMS` items (the
#: inversion is cubic: ~3 minutes on 2 cores at 20,000 items).
EASE_MEMORY_SHARE = 0.25
EASE_MAX_ITEMS = 20_000
#: EASE's fit takes about this many seconds × items³ (its inversion; measured on 2 cores: 10.2 s
#: for 10,000 items with the in-place inversion, 42 s before it; kept at 1.5x the measure).
EASE_SECONDS_PER_CUBE = 1.5e-11
#: Cells of the dense item-similarity block item-kNN computes at once.
KNN_BLOCK_CELLS = 25_000_000


class Skipped(Exception):
    """A candidate cannot run on this data or machine; the message says why."""


@dataclass(frozen=True)
class Training:
    """What a recommender learns from: the users × items ``matrix`` of preference weights and,
    when there is a time column, ``times``, a CSR matrix of the same pattern holding each
    pair's time (seconds) plus one, so that no stored value is zero."""

    matrix: sp.csr_matrix
    times: sp.csr_matrix | None = None


class Recommender(ABC):
    """One recommender. ``name`` is its leaderboard name; ``needs`` the module it imports."""

    name: ClassVar[str]
    needs: ClassVar[str | None] = None
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = {**self.defaults, **params}
        self.matrix_: sp.csr_matrix | None = None
        self.seed = 0  #: random state of the models that draw
        self.threads = 1  #: threads of the models that run several

    @classmethod
    def space(cls, trial: Any, training: Training) -> dict[str, Any]:
        """Parameters suggested by an Optuna ``trial`` (names prefixed by the candidate's)."""
        return {}

    @classmethod
    def estimate(cls, n_users: int, n_items: int, nnz: int) -> float:
        """Seconds one fit should take, when it can be told before trying (0: unknown, cheap)."""
        return 0.0

    def fit(self, training: Training) -> Recommender:
        self.matrix_ = training.matrix
        self._fit(training)
        return self

    @abstractmethod
    def _fit(self, training: Training) -> None: ...

    @abstractmethod
    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for ``users`` (codes): len(users) × items, float32."""

    def similarity(self, item: int) -> np.ndarray | None:
        """Similarity of item ``item`` (a code) to every item, or None when the model has none."""
        return None

    def history(self, users: np.ndarray) -> sp.csr_matrix:
        if self.matrix_ is None:
            from labcoat.errors import NotFittedError

            raise NotFittedError(f"{self.name} is not fitted.")
        return self.matrix_[users]

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class MostPopular(Recommender):
    """The items with the most preferences, the same for everyone; ``window`` < 1 counts only
    the latest share of the training period (what is popular now)."""

    name = "most_popular"
    defaults = {"window": 1.0}

    @classmethod
    def space(cls, trial: Any, training: Training) -> dict[str, Any]:
        if training.times is None:
            return {}
        return {"window": trial.suggest_categorical("most_popular.window", [1.0, 0.5, 0.25, 0.1])}

    def _fit(self, training: Training) -> None:
        window = float(self.params["window"])
        counted = training.matrix
        if window < 1 and training.times is not None and training.times.nnz:
            times = training.times.data
            start = times.max() - window * (times.max() - times.min())
            counted = training.times.copy()
            counted.data = (times >= start).astype(np.float32)
        self.counts_ = np.asarray((counted > 0).sum(axis=0), dtype=np.float32).ravel()

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts_, (len(users), len(self.counts_))).copy()


def bm25(matrix: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weights of a users × items matrix (each user a document, each item a term): an
    item's weight falls with its popularity (idf) and with the length of the user's history,
    so that popular items and heavy users do not dominate the similarities.

    Examples
    --------
    >>> x = bm25(sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])))
    >>> bool(x[0, 1] > x[0, 0])  # the rarer item weighs more
    True
    """
    x = matrix.tocsr().astype(np.float32, copy=True)
    n_users = x.shape[0]
    df = np.bincount(x.indices, minlength=x.shape[1])
    idf = np.log(n_users / (1.0 + df)) + 1.0
    lengths = np.diff(x.indptr)
    norm = (1 - b) + b * lengths / max(lengths.mean(), 1e-9)
    rows = np.repeat(np.arange(n_users), lengths)
    x.data = (x.data * (k1 + 1) / (k1 * norm[rows] + x.data) * idf[x.indices]).astype(np.float32)
    return x


class ItemKNN(Recommender):
    """Item-based nearest neighbours: a user's score for an item is the sum of its similarities
    to the items they liked, over the item's ``k`` most similar items (cosine of the items'
    user vectors, shrunk by ``shrink`` so that rare co-occurrences count less; optionally on
    BM25 weights)."""

    name = "item_knn"
    defaults = {"k": 100, "shrink": 10.0, "weighting": "cosine"}

    @classmethod
    def space(cls, trial: Any, training: Training) -> dict[str, Any]:
        return {"k": trial.suggest_int("item_knn.k", 10, 500, log=True),
                "shrink": trial.suggest_float("item_knn.shrink", 0.0, 200.0),
                "weighting": trial.suggest_categorical("item_knn.weighting", ["cosine", "bm25"])}

    def _fit(self, training: Training) -> None:
        x = training.matrix if self.params["weighting"] == "cosine" else bm25(training.matrix)
        n_items = x.shape[1]
        k = int(min(self.params["k"], max(n_items - 1, 1)))
        xt = x.T.tocsr()
        xc = x.tocsc()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        step = max(1, KNN_BLOCK_CELLS // max(n_items, 1))
        rows_, cols_, vals_ = [], [], []
        for start in range(0, n_items, step):
            end = min(start + step, n_items)
            block = (xt @ xc[:, start:end]).toarray()  # items × chunk co-occurrences
            block /= norms[:, None] * norms[None, start:end] + float(self.params["shrink"]) + 1e-9
            block[np.arange(start, end), np.arange(end - start)] = 0.0  # an item is not its own neighbour
            near = np.argpartition(-block, k - 1, axis=0)[:k]  # k × chunk neighbour codes
            values = np.take_along_axis(block, near, axis=0)
            keep = values > 0
            rows_.append(near[keep])
            cols_.append(np.broadcast_to(np.arange(start, end), near.shape)[keep])
            vals_.append(values[keep])
        self.weights_ = sp.csr_matrix((np.concatenate(vals_).astype(np.float32),
                                       (np.concatenate(rows_), np.concatenate(cols_))), shape=(n_items, n_items))

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.history(users) @ self.weights_).toarray(), dtype=np.float32)

    def similarity(self, item: int) -> np.ndarray:
        column = self.weights_[:, item].toarray().ravel()
        row = self.weights_[item].toarray().ravel()
        return np.maximum(column, row)  # neighbours either way: the k-cut is not symmetric


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``; total physical memory if unknown)."""
    try:
        with open("/proc/meminfo") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def ease_skip_reason(n_items: int) -> str | None:
    """Why EASE cannot run on ``n_items`` items here, or None when it can.

    Examples
    --------
    >>> ease_skip_reason(100) is None
    True
    """
    needed = n_items ** 2 * 8
    limit = EASE_MEMORY_SHARE * available_memory()
    if n_items > EASE_MAX_ITEMS:
        return f"{n_items:,} items is above EASE's limit of {EASE_MAX_ITEMS:,} (its inversion is cubic in the items)"
    if needed > limit:
        return (f"its {n_items:,} × {n_items:,} matrix needs {needed / 2**30:.1f} GiB, more than "
                f"{EASE_MEMORY_SHARE:.0%} of the {limit / EASE_MEMORY_SHARE / 2**30:.1f} GiB available")
    return None


class EASE(Recommender):
    """EASE (Steck, 2019): a dense item-item weight matrix in closed form, ``B = I - P /
    diag(P)`` with ``P = (XᵀX + λI)⁻¹``; strong on small and medium catalogues, skipped on large
    ones (:func:`ease_skip_reason`)."""

    name = "ease"
    defaults = {"lambda": 250.0}

    @classmethod
    def space(cls, trial: Any, training: Training) -> dict[str, Any]:
        return {"lambda": trial.suggest_float("ease.lambda", 5.0, 5000.0, log=True)}

    @classmethod
    def estimate(cls, n_users: int, n_items: int, nnz: int) -> float:
        return EASE_SECONDS_PER_CUBE * float(n_items) ** 3

    def _fit(self, training: Training) -> None:
        reason = ease_skip_reason(training.matrix.shape[1])
        if reason:
            raise Skipped(reason)
        from scipy.linalg import inv

        x = (training.matrix > 0).astype(np.float64)  # EASE is defined on 0/1 preferences
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += float(self.params["lambda"])
        # Inverted (LAPACK getri through scipy) and scaled in place: one items × items float64
        # matrix alive instead of three. Measured on 10,000 items, 2 cores: fit 24.4 -> 10.2 s,
        # peak RSS 3.38 -> 1.44 GB, the same float32 weights.
        p = inv(gram, overwrite_a=True, check_finite=False)
        del gram
        p /= -np.diag(p).copy()
        np.fill_diagonal(p, 0.0)
        self.weights_ = p.astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.history(users) > 0).astype(np.float32) @ self.weights_, dtype=np.float32)

    def similarity(self, item: int) -> np.ndarray:
        return np.maximum(self.weights_[:, item], self.weights_[item])


class _Factors(Recommender):
    """Matrix factorisation through ``implicit``'s CPU models; only the factors are kept."""

    needs = "implicit"

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.user_factors_[users] @ self.item_factors_.T, dtype=np.float32)

    def similarity(self, item: int) -> np.ndarray:
        factors = self.item_factors_
        norms = np.linalg.norm(factors, axis=1) + 1e-9
        return np.asarray(factors @ factors[item] / (norms * norms[item]))

    def _fit(self, training: Training) -> None:
        from threadpoolctl import threadpool_limits

        # implicit runs its own threads; BLAS threads on top of them slow it down (it warns).
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = self._model()
            model.fit(training.matrix.astype(np.float32), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _model(self) -> Any:
        raise NotImplementedError


class ALS(_Factors):
    """Alternating least squares for implicit feedback (Hu, Koren & Volinsky, 2008): a
    preference of weight ``w`` is trusted with confidence ``1 + alpha · w``."""

    name = "als"
    defaults = {"factors": 32, "regularization": 1.0, "iterations": 15, "alpha": 10.0}

    @classmethod
    def space(cls, trial: Any, training: Training) -> dict[str, Any]:
        return {"factors": trial.suggest_int("als.factors", 16, 256, log=True),
                "regularization": trial.suggest_float("als.regularization", 1e-3, 10.0, log=True),
                "iterations": trial.suggest_int("als.iterations", 5, 30),
                "alpha": trial.suggest_float("als.alpha", 0.5, 100.0, log=True)}

    def _model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        return AlternatingLeastSquares(factors=int(p["factors"]), regularization=float(p["regularization"]),
                                       alpha=float(p["alpha"]), iterations=int(p["iterations"]),
                                       num_threads=self.threads, random_state=self.seed)


class BPR(_Factors):
    """Bayesian personalised ranking (Rendle et al., 2009): factors learned by stochastic
    gradient steps that rank a user's items above items they have not met."""

    name = "bpr"
    defaults = {"factors": 32, "learning_rate": 0.01, "regularization": 0.01, "iterations": 50}

    @classmethod
    def space(cls, trial: Any, training: Training) -> dict[str, Any]:
        return {"factors": trial.suggest_int("bpr.factors", 16, 256, log=True),
                "learning_rate": trial.suggest_float("bpr.learning_rate", 1e-3, 0.2, log=True),
                "regularization": trial.suggest_float("bpr.regularization", 1e-4, 0.1, log=True),
                "iterations": trial.suggest_int("bpr.iterations", 20, 300, log=True)}

    def _model(self) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = self.params
        return BayesianPersonalizedRanking(factors=int(p["factors"]), learning_rate=float(p["learning_rate"]),
                                           regularization=float(p["regularization"]),
                                           iterations=int(p["iterations"]), num_threads=self.threads,
                                           random_state=self.seed)


#: The name of the LightGBM re-ranker over the others (:mod:`.rerank`): tried by default, or when named.
RERANK = "rerank"
#: Every candidate by name, cheapest first (the order the defaults are tried in).
CANDIDATES: dict[str, type[Recommender]] = {c.name: c for c in (MostPopular, ItemKNN, EASE, ALS, BPR)}


def select(names: Sequence[str] | None) -> list[type[Recommender]]:
    """The candidate classes named (default: all), in :data:`CANDIDATES` order; ``most_popular``
    is always included, as the baseline every other one is compared with.

    Examples
    --------
    >>> [c.name for c in select(["ease"])]
    ['most_popular', 'ease']
    """
    if names is None:
        return list(CANDIDATES.values())
    wanted = [str(n).lower() for n in names]
    for name in wanted:
        if name not in CANDIDATES and name != RERANK:
            raise ConfigError(f"Unknown recommender {name!r}. Use some of: {listed([*CANDIDATES, RERANK])}."
                              + did_you_mean(name, [*CANDIDATES, RERANK]))
    return [c for n, c in CANDIDATES.items() if n in wanted or n == MostPopular.name]


def installed(classes: list[type[Recommender]], notes: list[str]) -> list[type[Recommender]]:
    """The classes whose library is installed; one note naming the extra for the others."""
    missing = sorted({c.needs for c in classes if c.needs and importlib.util.find_spec(c.needs) is None})
    skipped = [c.name for c in classes if c.needs in missing]
    if skipped:
        notes.append(f"{' and '.join(skipped)} skipped: {', '.join(missing)} is not installed. Install it with: "
                     f"{EXTRA}")
    return [c for c in classes if c.needs not in missing]
