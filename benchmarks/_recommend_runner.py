"""One system of ``benchmarks/recommend.py``, run in that system's venv.

Usage (done by ``recommend.py``)::

    python _recommend_runner.py task.json

The task names the ``system``, the training interactions (``train``, a parquet file of
``user_id``, ``item_id``, ``timestamp``), the test users (``users``, a parquet file of
``user_id``), the labcoat ``budget`` and the ``out`` file. The system fits on the training part
only, then writes each test user's top 20 items (``out``: parquet ``user``, ``rank``, ``item``)
and a report beside it (``out`` + ``.json``): fit seconds, seconds to recommend 10 items to
1,000 users, peak RSS and, for the tuned systems, the chosen parameters and validation NDCG@10.

The tuned systems score their configurations on a validation part cut from the training part
the same way as the test: the latest 20% of the training interactions (in time) are held out.
This module imports no labcoat code except for the ``labcoat`` system itself.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

TOP = 20
TEST_SHARE = 0.2
TRIALS = 20
VALIDATION_USERS = 5000
EASE_LAMBDAS = np.geomspace(10.0, 10_000.0, 8)
THREADS = 2
CHUNK = 2000

#: fit(matrix, params) -> recommend(user codes, k) -> items codes (users x k, -1 when none)
Recommend = Callable[[np.ndarray, int], np.ndarray]


def temporal_test(times: np.ndarray, share: float = TEST_SHARE) -> np.ndarray:
    """Rows at or after the instant that leaves ``share`` of the rows after it (ties go together)."""
    cut = np.quantile(times, 1 - share, method="higher")
    return times >= cut


def counts(users: np.ndarray, items: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Users x items CSR of interaction counts (float32)."""
    matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def top_unseen(scores: np.ndarray, seen: sp.csr_matrix, k: int) -> np.ndarray:
    """Each row's ``k`` best columns, best first, the ``seen`` ones (same rows) left out."""
    scores[np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr)), seen.indices] = -np.inf
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    top[~np.isfinite(np.take_along_axis(scores, top, axis=1))] = -1
    return top


# ---- the recommenders ---------------------------------------------------------------------

def fit_implicit(kind: str, matrix: sp.csr_matrix, params: dict) -> Recommend:
    """implicit's CPU ALS or BPR on the counts (confidence as-is), ``params`` over its defaults;
    fitted on :data:`THREADS` threads with BLAS on one."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    cls = AlternatingLeastSquares if kind == "als" else BayesianPersonalizedRanking
    model = cls(**params, random_state=0, num_threads=THREADS)
    with threadpool_limits(1, "blas"):  # implicit's advice (and labcoat's practice): its own threads only
        model.fit(matrix, show_progress=False)

    def recommend(users: np.ndarray, k: int) -> np.ndarray:
        ids, _ = model.recommend(users, matrix[users], N=k, filter_already_liked_items=True)
        return np.asarray(ids)
    return recommend


def fit_ease(matrix: sp.csr_matrix, params: dict) -> Recommend:
    """EASE (Steck 2019) on the binary matrix, float32: B = I - P / diag(P), P = (X'X + lambda I)^-1
    (Cholesky: LAPACK potrf then potri)."""
    from scipy.linalg import lapack

    binary = (matrix > 0).astype(np.float32).tocsr()
    gram = (binary.T @ binary).toarray()
    gram[np.diag_indices_from(gram)] += np.float32(params["lambda"])
    factor, info = lapack.spotrf(gram, lower=False, overwrite_a=True)
    assert info == 0, f"potrf failed ({info})"
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    assert info == 0, f"potri failed ({info})"
    del gram, factor
    upper = np.triu(inverse)
    weights = upper + np.triu(upper, 1).T
    del inverse, upper
    weights /= -np.diag(weights)[None, :]  # column j divided by -P_jj
    np.fill_diagonal(weights, 0.0)

    def recommend(users: np.ndarray, k: int) -> np.ndarray:
        parts = []
        for start in range(0, len(users), CHUNK):
            rows = binary[users[start:start + CHUNK]]
            parts.append(top_unseen(np.asarray(rows @ weights, dtype=np.float32), rows, k))
        return np.concatenate(parts) if parts else np.zeros((0, k), dtype=int)
    return recommend


def als_space(trial) -> dict:
    return {"factors": trial.suggest_int("factors", 16, 256, log=True),
            "regularization": trial.suggest_float("regularization", 1e-3, 10.0, log=True),
            "iterations": trial.suggest_int("iterations", 5, 30),
            "alpha": trial.suggest_float("alpha", 0.1, 50.0, log=True)}


def bpr_space(trial) -> dict:
    return {"factors": trial.suggest_int("factors", 16, 256, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.2, log=True),
            "regularization": trial.suggest_float("regularization", 1e-4, 0.1, log=True),
            "iterations": trial.suggest_int("iterations", 20, 300, log=True)}


# ---- validation and tuning ----------------------------------------------------------------

class Validation:
    """The training part cut in time again: ``matrix`` (the earlier 80%) to fit on, and for a
    seeded sample of users with rows on both sides, their new held-out items (``truth``)."""

    def __init__(self, user: np.ndarray, item: np.ndarray, times: np.ndarray, shape: tuple[int, int]) -> None:
        held = temporal_test(times)
        self.matrix = counts(user[~held], item[~held], shape)
        truth = counts(user[held], item[held], shape)
        truth = truth - truth.multiply(self.matrix > 0)  # items met before are not news
        truth.eliminate_zeros()
        known = np.diff(self.matrix.indptr) > 0
        users = np.flatnonzero(known & (np.diff(truth.indptr) > 0))
        if len(users) > VALIDATION_USERS:
            users = np.sort(np.random.default_rng(0).choice(users, VALIDATION_USERS, replace=False))
        self.users, self.truth = users, truth[users].tocsr()

    def ndcg(self, recommend: Recommend) -> float:
        """Mean NDCG@10 (binary gains) of ``recommend`` over the validation users."""
        top = recommend(self.users, 10)
        discounts = 1.0 / np.log2(np.arange(2, 12))
        gains = np.zeros(top.shape)
        for row in range(len(self.users)):
            relevant = self.truth.indices[self.truth.indptr[row]:self.truth.indptr[row + 1]]
            gains[row] = np.isin(top[row], relevant)
            n = min(len(relevant), 10)
            gains[row] /= discounts[:n].sum()
        return float((gains * discounts).sum(axis=1).mean())


def tune(fit: Callable[[sp.csr_matrix, dict], Recommend], space: Callable, validation: Validation,
         grid: list[dict] | None = None) -> tuple[dict, list[dict]]:
    """The best parameters on validation: :data:`TRIALS` TPE trials of ``space`` (seeded), or
    every point of ``grid``; and every trial's parameters, score and seconds."""
    history: list[dict] = []

    def objective(params: dict) -> float:
        started = time.monotonic()
        value = validation.ndcg(fit(validation.matrix, params))
        history.append({"params": params, "ndcg@10": value, "seconds": round(time.monotonic() - started, 2)})
        print(json.dumps(history[-1]), file=sys.stderr, flush=True)
        return value

    if grid is not None:
        for params in grid:
            objective(params)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(lambda trial: objective(space(trial)), n_trials=TRIALS)
    best = max(history, key=lambda h: h["ndcg@10"])
    return best["params"], history


# ---- the run ------------------------------------------------------------------------------

def run_peer(system: str, train: pd.DataFrame, users: np.ndarray) -> tuple[Recommend, dict, float]:
    """Fit ``system`` (codes over the training users and items): its recommend, report, seconds."""
    user_codes, user_ids = pd.factorize(train["user_id"])
    item_codes, item_ids = pd.factorize(train["item_id"])
    shape = (len(user_ids), len(item_ids))
    kind, _, mode = system.partition("_")
    if kind == "implicit":
        kind, _, mode = mode.partition("_")
    fit = (lambda m, p: fit_ease(m, p)) if kind == "ease" else (lambda m, p: fit_implicit(kind, m, p))
    report: dict = {}
    started = time.monotonic()
    params: dict = {}
    if mode == "tuned":
        times = train["timestamp"].to_numpy().astype("datetime64[ns]").astype(np.int64) \
            if np.issubdtype(train["timestamp"].dtype, np.datetime64) else train["timestamp"].to_numpy()
        validation = Validation(user_codes, item_codes, times, shape)
        grid = [{"lambda": float(v)} for v in EASE_LAMBDAS] if kind == "ease" else None
        space = {"als": als_space, "bpr": bpr_space}.get(kind)
        params, history = tune(fit, space, validation, grid)
        report.update({"params": params, "trials": history, "validation_users": int(len(validation.users)),
                       "validation_ndcg@10": max(h["ndcg@10"] for h in history),
                       "tuning_seconds": round(time.monotonic() - started, 2)})
    elif kind == "ease":
        raise ValueError("EASE runs tuned only")
    recommend_codes = fit(counts(user_codes, item_codes, shape), params)
    seconds = time.monotonic() - started
    lookup = pd.Index(user_ids)

    def recommend(asked: np.ndarray, k: int) -> np.ndarray:
        codes = recommend_codes(lookup.get_indexer(asked), k)
        return np.where(codes >= 0, np.asarray(item_ids, dtype=object)[np.maximum(codes, 0)], None)
    return recommend, report, seconds


def run_labcoat(train: pd.DataFrame, budget: float) -> tuple[Recommend, dict, float]:
    import warnings

    import labcoat

    warnings.simplefilter("ignore")
    started = time.monotonic()
    model = labcoat.fit(train, task="recommend", user="user_id", item="item_id", rating=None, time="timestamp",
                        budget=budget, track=False, report=False, quiet=True)
    seconds = time.monotonic() - started

    def recommend(asked: np.ndarray, k: int) -> np.ndarray:
        frame = model.recommend(list(asked), k=k, exclude_seen=True)
        out = np.full((len(asked), k), None, dtype=object)
        row = pd.Index(asked).get_indexer(frame["user"])
        out[row, frame["rank"].to_numpy() - 1] = frame["item"].to_numpy()
        return out
    board = model.leaderboard
    report = {"chosen": model.info["chosen"]["name"], "why": model.info["chosen"]["why"],
              "trials": model.info.get("trials"), "version": labcoat.__version__,
              "leaderboard": board[[c for c in ("candidate", "ndcg@10", "validation_ndcg@10", "seconds", "status")
                                    if c in board]].astype(object).where(board.notna(), None).to_dict("records")}
    return recommend, report, seconds


def main() -> None:
    task = json.load(open(sys.argv[1]))
    train = pd.read_parquet(task["train"])
    users = pd.read_parquet(task["users"])["user_id"].to_numpy(dtype=object)
    if task["system"] == "labcoat":
        recommend, report, fit_seconds = run_labcoat(train, task["budget"])
    else:
        recommend, report, fit_seconds = run_peer(task["system"], train, users)
    recommend(users[:10], 10)  # warm up
    started = time.monotonic()
    recommend(users[:1000], 10)
    thousand = time.monotonic() - started
    top = recommend(users, TOP)
    pd.DataFrame({"user": np.repeat(users, TOP), "rank": np.tile(np.arange(1, TOP + 1), len(users)),
                  "item": top.ravel()}).to_parquet(task["out"])
    report.update({"fit_seconds": fit_seconds, "recommend_1000_seconds": thousand,
                   "users_timed": int(min(len(users), 1000)),
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    json.dump(report, open(task["out"] + ".json", "w"), default=str)


if __name__ == "__main__":
    main()
