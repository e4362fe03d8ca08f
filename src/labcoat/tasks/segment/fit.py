"""``labcoat.fit(data, task="segment")``: the segments of a table, found without labels.

The columns' roles are inferred (:mod:`.data`), the rows put in a distance space (numbers
standardised, categories one-hot encoded as k-prototypes weighs them), then within the
budget: k-means for each number of segments, HDBSCAN, Gaussian mixtures for each number,
each scored by the silhouette on a sample of rows, its stability (adjusted Rand index with
refits on bootstrap samples) and, for mixtures, BIC. The choice, when ``k`` is not given:

1. a candidate is *stable* when the low end of its agreement's 95% interval is at least 0.75
   (:data:`.stability.STABLE`): stable beyond the noise of the refits;
2. each family proposes its best stable candidate: k-means the best silhouette, mixtures the
   lowest BIC, HDBSCAN its own;
3. the proposal with the best silhouette wins (fewer segments on a tie); with no stable
   candidate, the most stable one, with a notice.

Examples
--------
>>> from labcoat.datasets import make_customers
>>> model = fit_segment(make_customers(300, seed=0), budget=5, candidates=["kmeans"], quiet=True)
>>> model.info["k"], model.info["chosen"]["stability_low"] > 0.75
(4, True)
"""
from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Role
from labcoat.data.io import as_table
from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.search.budget import Clock, parse_budget
from labcoat.tasks.saved_folder import mlflow_type
from labcoat.tasks.segment.candidates import CANDIDATES, Clustering, NoStructure, fit_clustering
from labcoat.tasks.segment.data import build_space, categorical_share, infer_segment_schema, segment_columns
from labcoat.tasks.segment.describe import describe_segments, profile
from labcoat.tasks.segment.model import SegmentModel
from labcoat.tasks.segment.stability import STABLE, bootstrap_agreement, summarise

BUDGET = 60.0
#: The shortest budget whose report draws its map with UMAP when ``projection="auto"``.
UMAP_BUDGET = 300.0
#: Rows the silhouette and the stability refits use (both grow with the square of the rows
#: or close to it); larger data is sampled, with a notice.
SAMPLE_ROWS = 2000
#: HDBSCAN is fitted on at most this many rows; k-means and mixtures on at most FIT_ROWS.
HDBSCAN_ROWS = 5000
FIT_ROWS = 200_000
#: Refits on bootstrap samples per candidate (fewer when the budget runs short, at least 2).
RESAMPLES = 8
MAX_K = 10
#: Fits on more rows than this use the thread pools (BLAS, OpenMP); smaller ones one thread.
THREADED_ROWS = 20_000
#: Rows kept in the model for the report's map.
MAP_ROWS = 2000


def fit_segment(data: pd.DataFrame | str | Path, target: str | None = None, *, k: int | None = None,
                exclude: Sequence[str] = (), projection: str = "auto", budget: float | str | None = None, seed: int = 0, quiet: bool = False,
                candidates: Sequence[str] | None = None, metric: str | None = None, time_column: str | None = None,
                n_jobs: int | None = None, executor: str | None = None,
                ray_address: str | None = None) -> SegmentModel:
    """Segment the rows of ``data`` and return a :class:`SegmentModel`.

    ``k`` fixes the number of segments (2 or more; HDBSCAN, which finds its own, is then left
    out); ``exclude`` names columns not to segment on (ids, say, that were not recognised as
    such); ``candidates`` restricts the clusterers (``kmeans``, ``gmm``, ``hdbscan``);
    ``projection`` is the report's 2-D map: ``"umap"``, ``"pca"`` or ``"auto"`` (UMAP when
    umap-learn is installed and the budget is at least :data:`UMAP_BUDGET` seconds: its first
    map in a process takes 10-30 s to compile, which a short budget cannot hold; else PCA).
    """
    started = time.monotonic()
    _refuse(target=target, metric=metric, time_column=time_column, executor=executor if executor != "local" else None,
            ray_address=ray_address, n_jobs=n_jobs)
    clock = Clock(parse_budget(budget) if budget is not None else BUDGET)
    say = _printer(quiet)
    names = _candidates(candidates, k)
    if projection not in ("auto", "umap", "pca"):
        raise ConfigError(f"projection is auto, umap or pca (the report's map); got {projection!r}.")
    frame = as_table(data, "rows to segment")
    exclude = tuple([exclude] if isinstance(exclude, str) else exclude)
    schema = infer_segment_schema(frame, exclude=exclude)
    columns = segment_columns(schema)
    ks = _ks(k, len(frame))
    notes = list(schema.notices)
    prepared = schema.prepare(frame, warn=False)
    space = build_space(schema)
    X = np.asarray(space.fit_transform(prepared), dtype=float)
    if X.shape[1] == 0 or np.allclose(X.std(axis=0), 0):
        raise DataError("Every row is the same on the columns to segment on; there are no segments to find.")
    rng = np.random.default_rng(seed)
    fit_rows = _sample(rng, len(X), FIT_ROWS)
    eval_rows = _sample(rng, len(X), SAMPLE_ROWS)
    if len(eval_rows) < len(X):
        notes.append(f"The silhouette and the stability refits use a sample of {len(eval_rows):,} of the "
                     f"{len(X):,} rows (they grow with the square of the rows).")
    if len(fit_rows) < len(X):
        notes.append(f"k-means and mixtures are fitted on a sample of {len(fit_rows):,} rows.")
    say(f"segmenting {len(X):,} rows on {len(columns)} columns ({X.shape[1]} dimensions); "
        f"k {'= ' + str(k) if k else 'from 2 to ' + str(ks[-1])}")
    rows, fitted = _search(names, ks, X, fit_rows, eval_rows, clock, seed, notes, say)
    leaderboard = pd.DataFrame(rows)
    chosen, why = _choose(leaderboard, given_k=k)
    best = fitted[chosen]
    leaderboard["chosen"] = leaderboard.index == chosen
    say(f"chosen: {best.name} with {best.k} segments ({why})")
    labels_all = best.predict(X)
    order = _by_size(labels_all, best.k)
    segments_all = order[labels_all]
    described_rows = frame.index[_sample(rng, len(frame), 100_000)]
    positions = frame.index.get_indexer(described_rows)
    shown = _readable(prepared.loc[described_rows, columns], schema.names(Role.BOOLEAN))
    profiled = profile(shown, segments_all[positions])
    segments = describe_segments(shown, segments_all[positions], profiled)
    sizes = np.bincount(segments_all, minlength=best.k)
    segments["rows"] = sizes
    segments["share"] = np.round(sizes / len(X), 4)
    map_rows = eval_rows[:MAP_ROWS]
    info = {
        "task": "segment", "rows": int(len(frame)), "columns": columns, "dimensions": int(X.shape[1]),
        "categorical_share": round(categorical_share(schema), 4), "k": int(best.k), "k_given": k,
        "chosen": {"candidate": str(leaderboard.loc[chosen, "candidate"]), "k": int(best.k), "why": why,
                   **{key: _plain(leaderboard.loc[chosen, key]) for key in
                      ("silhouette", "stability", "stability_low", "stability_high", "bic", "noise_share")}},
        "shares": [float(s) for s in sizes / len(X)],
        "candidates": list(names), "resamples": RESAMPLES, "sample_rows": int(len(eval_rows)),
        "stable_from": STABLE, "noise": ("HDBSCAN's noise rows are given to the segment of most of their 5 nearest "
                                        "clustered rows; every row gets a segment" if best.name == "hdbscan" else None),
        "input_types": {c.name: mlflow_type(frame[c.name]) for c in schema.features},
        "notes": notes, "seed": seed, "projection": _projection(projection, clock.budget or BUDGET), "budget_seconds": clock.budget,
        "seconds": round(time.monotonic() - started, 2),
    }
    for note in notes[len(schema.notices):]:
        warnings.warn(note, LabcoatNotice, stacklevel=2)
    return SegmentModel(schema=schema, space=space, clustering=best, order=order, segments=segments,
                        profile=profiled, leaderboard=leaderboard, info=info,
                        map_sample=X[map_rows].astype(np.float32), map_segments=segments_all[map_rows])


def _search(names: Sequence[str], ks: list[int], X: np.ndarray, fit_rows: np.ndarray, eval_rows: np.ndarray,
            clock: Clock, seed: int, notes: list[str], say: Any) -> tuple[list[dict[str, Any]], dict[int, Clustering]]:
    """Every candidate in turn (k-means for each k, HDBSCAN, mixtures for each k) until the
    budget runs out: its leaderboard row and, by row number, its fit."""
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    jobs = [(name, kk) for name in names for kk in ([None] if name == "hdbscan" else ks)]
    rows: list[dict[str, Any]] = []
    fitted: dict[int, Clustering] = {}
    X_eval = X[eval_rows]
    skipped = []
    for number, (name, kk) in enumerate(jobs):
        left = len(jobs) - number
        if clock.remaining <= 0 and fitted:
            skipped.append(f"{name}{'' if kk is None else f' k={kk}'}")
            rows.append({"candidate": name, "k": kk, "status": "skipped: budget spent"})
            continue
        began = time.monotonic()
        used = fit_rows[:HDBSCAN_ROWS] if name == "hdbscan" else fit_rows
        try:  # thread pools only slow small fits down (x70 for k-means on 300 rows, 2 busy cores)
            with threadpool_limits(1 if len(used) <= THREADED_ROWS else None):
                clustering = fit_clustering(name, X[used], kk, seed=seed)
        except NoStructure as found:
            rows.append({"candidate": name, "k": kk, "status": f"no segments: {found}",
                         "seconds": round(time.monotonic() - began, 2)})
            continue
        share = max(clock.remaining, 0.0) / left if clock.budget is not None else None
        deadline = None if share is None else time.monotonic() + share
        with threadpool_limits(1):
            reference = clustering.predict(X_eval)
            silhouette = (float(silhouette_score(X_eval, reference)) if len(set(reference.tolist())) > 1
                          else float("nan"))
            scores = bootstrap_agreement(name, X_eval, reference, clustering.k, resamples=RESAMPLES, seed=seed,
                                         deadline=deadline)
        fitted[len(rows)] = clustering
        rows.append({"candidate": name, "k": clustering.k, "silhouette": round(silhouette, 4), **summarise(scores),
                     "bic": None if clustering.bic is None else round(clustering.bic, 1),
                     "noise_share": clustering.noise_share, "smallest_share": round(
                         float(np.bincount(clustering.labels).min() / len(clustering.labels)), 4),
                     "seconds": round(time.monotonic() - began, 2), "status": "ok"})
        say(f"  {name} k={clustering.k}: silhouette {silhouette:.3f}, stability {rows[-1]['stability']:.3f}")
    if skipped:
        notes.append(f"The budget ran out before {', '.join(skipped)}; give more budget to try them.")
    if not fitted:
        raise DataError("No candidate found segments in the data: " + "; ".join(str(r["status"]) for r in rows))
    return rows, fitted


def _choose(board: pd.DataFrame, *, given_k: int | None) -> tuple[int, str]:
    """The row of the chosen candidate and why (see the module's docstring)."""
    ok = board[board["status"] == "ok"]
    stable = ok[ok["stability_low"] >= STABLE]  # stable beyond the refits' noise: the interval's low end
    if stable.empty:
        row = int(ok.sort_values(["stability", "silhouette"], ascending=False, kind="stable").index[0])
        warnings.warn(f"No candidate is stable (agreement between bootstrap refits not surely over {STABLE}); the most "
                      "stable one is kept, but its segments may not be reproducible: the data may have no clear "
                      "segments.", LabcoatNotice, stacklevel=3)
        return row, f"no candidate reached stability {STABLE}; the most stable one"
    proposals = []
    for name, group in stable.groupby("candidate", sort=False):
        if name == "gmm" and group["bic"].notna().any():
            proposals.append(int(group.index[int(group["bic"].astype(float).to_numpy().argmin())]))
        else:
            proposals.append(int(group.sort_values(["silhouette", "k"], ascending=[False, True],
                                                   kind="stable").index[0]))
    chosen = board.loc[proposals].sort_values(["silhouette", "k"], ascending=[False, True], kind="stable").index[0]
    lead = "k given; " if given_k else ""
    return int(chosen), (f"{lead}the best silhouette among the stable proposals (k-means: best silhouette, "
                         f"mixtures: lowest BIC, HDBSCAN: its own; stable: agreement's 95% interval above {STABLE})")


def _readable(frame: pd.DataFrame, booleans: list[str]) -> pd.DataFrame:
    """The prepared columns as the profile shows them: booleans (prepared as 0/1) as
    categories ``True``/``False``."""
    if not booleans:
        return frame
    return frame.assign(**{c: frame[c].map({1.0: "True", 0.0: "False"}) for c in booleans})


def _by_size(labels: np.ndarray, k: int) -> np.ndarray:
    """The map from a clusterer's labels to segment numbers, 0 for the largest segment."""
    sizes = np.bincount(labels, minlength=k)
    order = np.empty(k, dtype=int)
    order[np.argsort(-sizes, kind="stable")] = np.arange(k)
    return order


def _ks(k: int | None, n: int) -> list[int]:
    if k is None:
        return list(range(2, max(3, min(MAX_K, n // 20)) + 1))
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"k is the number of segments, a whole number of at least 2; got {k!r}. "
                          "Leave it out to have it chosen.")
    if k > n // 5:
        raise ConfigError(f"k={k} segments is too many for {n:,} rows (at most one segment per 5 rows: {n // 5}).")
    return [int(k)]


def _candidates(candidates: Sequence[str] | None, k: int | None) -> list[str]:
    if candidates is None:
        return [c for c in CANDIDATES if not (k is not None and c == "hdbscan")]
    names = [str(c).lower() for c in ([candidates] if isinstance(candidates, str) else candidates)]
    unknown = [c for c in names if c not in CANDIDATES]
    if unknown:
        raise ConfigError(f"Unknown segmentation candidate(s) {', '.join(map(repr, unknown))}; use "
                          f"{', '.join(CANDIDATES)}.")
    if k is not None and "hdbscan" in names:
        raise ConfigError("HDBSCAN finds its own number of segments; drop it from the candidates or drop k.")
    if not names:
        raise ConfigError("Give at least one segmentation candidate (kmeans, gmm, hdbscan).")
    return names


def _sample(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def _refuse(**given: Any) -> None:
    used = [name for name, value in given.items() if value is not None]
    if used:
        raise ConfigError(f"{', '.join(used)} {'does' if len(used) == 1 else 'do'} not apply to segmentation; drop "
                          f"{'it' if len(used) == 1 else 'them'}. Segmentation takes the data, k, exclude, candidates, "
                          "a budget and a seed (no target: segments are found without labels).")


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _printer(quiet: bool) -> Any:
    def say(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)
    return say


def _projection(asked: str, budget: float) -> str:
    """The report's map: ``asked``, with ``"auto"`` made UMAP or PCA by the budget."""
    if asked != "auto":
        return asked
    import importlib.util

    return "umap" if budget >= UMAP_BUDGET and importlib.util.find_spec("umap") is not None else "pca"
