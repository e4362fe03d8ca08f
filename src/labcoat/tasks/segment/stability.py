"""Stability of a segmentation: the candidate fitted again on bootstrap samples of the rows,
each refit's segments of the same rows compared with the original's by the adjusted Rand
index (1: the same partition, about 0: no more agreement than chance). HDBSCAN, which
density duplicates would mislead, is refitted on the distinct rows of each bootstrap sample
(a 63% subsample). Summarised as the mean with a 95% t interval over the refits, clipped to
[0, 1] (Hennig's clusterboot calls a segmentation stable from about 0.75; the fit asks the
interval's low end to reach it).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 0.3, (60, 2)), rng.normal(4, 0.3, (60, 2))])
>>> from labcoat.tasks.segment.candidates import fit_clustering
>>> reference = fit_clustering("kmeans", X, 2, seed=0)
>>> scores = bootstrap_agreement("kmeans", X, reference.predict(X), 2, resamples=4, seed=0)
>>> summarise(scores)["stability"]
1.0
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import adjusted_rand_score

from labcoat.tasks.segment.candidates import NoStructure, fit_clustering

#: A candidate whose mean agreement reaches this is called stable.
STABLE = 0.75


def bootstrap_agreement(name: str, X: np.ndarray, reference: np.ndarray, k: int | None, *, resamples: int,
                        seed: int, deadline: float | None = None) -> list[float]:
    """The adjusted Rand index between ``reference`` (the segments of ``X``'s rows) and those
    of up to ``resamples`` refits on bootstrap samples of ``X`` (fewer when ``deadline``, a
    ``time.monotonic()`` value, passes; at least two are tried). A refit that finds no
    structure (HDBSCAN: under two segments) counts as 0."""
    rng = np.random.default_rng(seed)
    scores: list[float] = []
    for b in range(resamples):
        if deadline is not None and b >= 2 and time.monotonic() > deadline:
            break
        rows = rng.integers(0, len(X), len(X))
        if name == "hdbscan":
            rows = np.unique(rows)
        try:
            refit = fit_clustering(name, X[rows], k, seed=seed + 1 + b)
        except NoStructure:
            scores.append(0.0)
            continue
        scores.append(float(adjusted_rand_score(reference, refit.predict(X))))
    return scores


def summarise(scores: list[float]) -> dict[str, Any]:
    """Mean agreement with its 95% t interval (clipped to [0, 1]) and the number of refits."""
    values = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    mean = float(values.mean()) if len(values) else math.nan
    if len(values) > 1 and values.std(ddof=1) > 0:
        half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    else:
        half = 0.0
    return {"stability": round(mean, 4), "stability_low": round(max(0.0, mean - half), 4),
            "stability_high": round(min(1.0, mean + half), 4), "resamples": len(values)}
