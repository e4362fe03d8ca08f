"""How good a match is: pairwise precision, recall and F1 with 95% intervals (a bootstrap over
the true entities), B-cubed, precision and recall against the threshold, the true matches the
blocking never compared, and, without true links, the model's own estimate.

Ids are compared as text. Truth is a Series from record id to its true entity; in linking,
``truth_a`` holds the first table's records and ``truth_b`` the second's.

Examples
--------
>>> truth = pd.Series(["e1", "e1", "e2", "e2", "e3"], index=list("abcde"))
>>> pairs = pd.DataFrame({"id_a": ["a", "c", "a"], "id_b": ["b", "e", "c"]})
>>> scores = pairwise_quality(pairs, truth, rounds=200)
>>> round(scores["precision"][0], 3), round(scores["recall"][0], 3)
(0.333, 0.5)
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import DataError

#: FEBRL's ids: ``rec-N-org`` and ``rec-N-dup-K`` are the same entity N.
FEBRL = r"^rec-(\d+)-(?:org|dup-\d+)$"
#: At most this many entity weights are drawn at once by the bootstrap (8 bytes each).
BOOTSTRAP_CELLS = 20_000_000
CAVEAT = ("an estimate from the model's own probabilities: it is right only as far as they are calibrated, and "
          "it cannot count matches that no blocking rule compared")


def entities_from_ids(ids: pd.Series, pattern: str = FEBRL) -> pd.Series | None:
    """Each record's true entity when the ids encode it (at least 95% follow ``pattern``,
    whose first group names the entity), else None.

    >>> entities_from_ids(pd.Series(["rec-1-org", "rec-1-dup-0", "rec-2-org"])).tolist()
    ['1', '1', '2']
    >>> entities_from_ids(pd.Series(["a", "b"])) is None
    True
    """
    found = ids.astype(str).str.extract(pattern, expand=False)
    if isinstance(found, pd.DataFrame):
        found = found.iloc[:, 0]
    if found.notna().mean() < 0.95:
        return None
    return found.fillna(ids.astype(str)).rename("entity")


def labelled_pairs(labels: pd.DataFrame, ids_a: pd.Series, ids_b: pd.Series | None = None) -> pd.DataFrame:
    """The user's labelled pairs checked: ``id_a``, ``id_b`` (known ids) and ``match`` (bool).

    >>> labelled_pairs(pd.DataFrame({"id_a": [1], "id_b": [2], "match": ["yes"]}), pd.Series(["1", "2"]))
      id_a id_b  match
    0    1    2   True
    """
    absent = [c for c in ("id_a", "id_b", "match") if c not in labels.columns]
    if absent:
        raise DataError(f"The labels need columns id_a, id_b and match (1/0, true/false, yes/no); "
                        f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} missing.")
    words = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False, "1.0": True, "0.0": False}
    said = labels["match"].astype(str).str.strip().str.lower()
    bad = ~said.isin(list(words))
    if bad.any():
        raise DataError(f"Label {labels['match'][bad].iloc[0]!r} in column 'match' is not 1/0, true/false or yes/no; "
                        f"fix the {int(bad.sum())} such rows.")
    out = pd.DataFrame({"id_a": labels["id_a"].astype(str).str.strip(), "id_b": labels["id_b"].astype(str).str.strip(),
                        "match": said.map(words).astype(bool)})
    known_a = set(ids_a.astype(str))
    known_b = known_a if ids_b is None else set(ids_b.astype(str))
    for column, known in (("id_a", known_a), ("id_b", known_b)):
        unknown = ~out[column].isin(known)
        if unknown.any():
            raise DataError(f"Labelled id {out[column][unknown].iloc[0]!r} (column {column}) is not a record id; "
                            f"{int(unknown.sum())} labels name unknown records. Use the ids of --id.")
    return out


def true_pair_count(truth_a: pd.Series, truth_b: pd.Series | None = None) -> int:
    """The true matching pairs: ``n (n - 1) / 2`` per entity within a table, ``n_a n_b`` between.

    >>> true_pair_count(pd.Series(["x", "x", "x", "y"]))
    3
    """
    sizes_a = truth_a.value_counts()
    if truth_b is None:
        return int((sizes_a * (sizes_a - 1) // 2).sum())
    sizes_b = truth_b.value_counts()
    both = sizes_a.index.intersection(sizes_b.index)
    return int((sizes_a[both] * sizes_b[both]).sum())


def pair_truth(pairs: pd.DataFrame, truth_a: pd.Series, truth_b: pd.Series | None = None) -> np.ndarray:
    """Whether each pair's two records are the same entity (a record without truth: no)."""
    a = _entity(truth_a, pairs["id_a"])
    b = _entity(truth_b if truth_b is not None else truth_a, pairs["id_b"])
    return (a == b) & (a != "") & (b != "")


def _entity(truth: pd.Series, ids: pd.Series) -> np.ndarray:
    lookup = pd.Series(truth.astype(str).to_numpy(), index=truth.index.astype(str))
    return lookup.reindex(ids.astype(str).to_numpy()).fillna("").to_numpy(dtype=object)


def pairwise_quality(pairs: pd.DataFrame, truth_a: pd.Series, truth_b: pd.Series | None = None, *,
                     rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Precision, recall and F1 of the linked ``pairs``, each ``(value, low, high)``: the 95%
    interval by resampling the true entities (a pair counts with its first record's entity,
    a true pair with its entity), and the counts ``tp``, ``fp``, ``fn``."""
    right = pair_truth(pairs, truth_a, truth_b)
    entity_of_pair = _entity(truth_a, pairs["id_a"])
    sizes_a = truth_a.astype(str).value_counts()
    if truth_b is None:
        per_entity_true = sizes_a * (sizes_a - 1) // 2
    else:
        sizes_b = truth_b.astype(str).value_counts()
        per_entity_true = (sizes_a * sizes_b.reindex(sizes_a.index).fillna(0)).astype(np.int64)
    entities = pd.Index(sizes_a.index)
    codes = entities.get_indexer(entity_of_pair)
    n = len(entities)
    tp = np.bincount(codes[(codes >= 0) & right], minlength=n).astype(float)
    predicted = np.bincount(codes[codes >= 0], minlength=n).astype(float)
    unattributed = float(((codes < 0)).sum())  # pairs of records without a known entity: false
    true_pairs = per_entity_true.reindex(entities).to_numpy(dtype=float)
    totals = (tp.sum(), predicted.sum() + unattributed, true_pairs.sum())
    point = _scores(*totals)
    rng = np.random.default_rng(seed)
    per_entity = np.column_stack([tp, predicted, true_pairs])
    sums = np.zeros((rounds, 3))
    step = max(1, min(rounds, BOOTSTRAP_CELLS // max(n, 1)))  # draws in chunks: rounds x entities can be GBs
    for start in range(0, rounds if n else 0, step):
        size = min(step, rounds - start)
        sums[start:start + size] = rng.multinomial(n, np.full(n, 1.0 / n), size=size) @ per_entity
    boot = np.array([_scores(t, p + unattributed, true) for t, p, true in sums])
    out: dict[str, Any] = {"tp": int(totals[0]), "fp": int(totals[1] - totals[0]), "fn": int(totals[2] - totals[0])}
    for i, name in enumerate(("precision", "recall", "f1")):
        values = boot[:, i][~np.isnan(boot[:, i])]
        low, high = (np.quantile(values, [0.025, 0.975]) if len(values) else (np.nan, np.nan))
        out[name] = (point[i], float(low), float(high))
    return out


def _scores(tp: float, predicted: float, true: float) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else float("nan")
    recall = tp / true if true else float("nan")
    f1 = 2 * tp / (predicted + true) if predicted + true else float("nan")
    return float(precision), float(recall), float(f1)


def bcubed(clusters: pd.Series, truth: pd.Series) -> dict[str, float]:
    """B-cubed precision, recall and F1 of predicted ``clusters`` (id → cluster) against
    ``truth`` (id → entity), over the records both know.

    >>> bcubed(pd.Series([1, 1, 2], index=list("abc")), pd.Series(["x", "y", "y"], index=list("abc")))["precision"]
    0.6666666666666666
    """
    known = clusters.index.astype(str).intersection(truth.index.astype(str))
    c = pd.Series(clusters.to_numpy(), index=clusters.index.astype(str)).reindex(known).astype(str)
    t = pd.Series(truth.to_numpy(), index=truth.index.astype(str)).reindex(known).astype(str)
    both = pd.DataFrame({"c": c.to_numpy(), "t": t.to_numpy()})
    cell = both.groupby(["c", "t"]).size()
    cluster_size = both.groupby("c").size()
    entity_size = both.groupby("t").size()
    counts = cell.to_numpy(dtype=float)
    precision = float((counts ** 2 / cluster_size.reindex(cell.index.get_level_values(0)).to_numpy()).sum() / len(both))
    recall = float((counts ** 2 / entity_size.reindex(cell.index.get_level_values(1)).to_numpy()).sum() / len(both))
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / (precision + recall)}


def clusters_from_pairs(ids: pd.Series, pairs: pd.DataFrame) -> pd.Series:
    """Each id's entity: the connected components of ``pairs``, named by their first id in
    ``ids``' order (a record in no pair is an entity of its own).

    >>> clusters_from_pairs(pd.Series(["a", "b", "c"]), pd.DataFrame({"id_a": ["b"], "id_b": ["c"]})).tolist()
    ['a', 'b', 'b']
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = pd.Index(ids.astype(str))
    a = index.get_indexer(pd.Index(pairs["id_a"].astype(str)))
    b = index.get_indexer(pd.Index(pairs["id_b"].astype(str)))
    keep = (a >= 0) & (b >= 0)
    n = len(index)
    graph = coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max() + 1 if n else 0, -1)
    order = np.arange(n)[::-1]
    first[labels[order]] = order  # the last write is the smallest position
    return pd.Series(index.to_numpy()[first[labels]], index=index.to_numpy(), name="entity")


def threshold_curve(scored: pd.DataFrame, truth_a: pd.Series, truth_b: pd.Series | None = None, *,
                    total_true: int | None = None, points: int = 200) -> pd.DataFrame:
    """Precision, recall and F1 at thresholds over the scored pairs' probabilities (recall
    against ``total_true`` when given: matches the blocking never compared count as missed)."""
    right = pair_truth(scored, truth_a, truth_b)
    p = scored["match_probability"].to_numpy()
    order = np.argsort(-p, kind="stable")
    p, right = p[order], right[order]
    tp = np.cumsum(right)
    n = np.arange(1, len(p) + 1)
    total = total_true if total_true is not None else int(right.sum())
    grid = np.unique(np.quantile(p, np.linspace(0, 1, points))) if len(p) else np.zeros(0)
    last = np.searchsorted(-p, -grid, side="right") - 1  # the last pair at or above each threshold
    found = np.where(last >= 0, tp[np.maximum(last, 0)], 0)
    kept = np.where(last >= 0, n[np.maximum(last, 0)], 0)
    precision = np.where(kept > 0, found / np.maximum(kept, 1), np.nan)
    recall = found / total if total else np.full(len(grid), np.nan)
    f1 = np.where(kept + total > 0, 2 * found / np.maximum(kept + total, 1), np.nan)
    return pd.DataFrame({"threshold": grid, "precision": precision, "recall": recall, "f1": f1, "pairs": kept})


RECAPTURE_CAVEAT = ("a capture-recapture estimate: each rule's share of the matches the other rules found, taken as "
                    "independent; rules that miss the same pairs (a record with several fields mistyped) make it "
                    "too low")


def capture_recapture_loss(found: pd.DataFrame) -> dict[str, Any] | None:
    """Without true links, how many true matches no blocking rule compares: each rule's recall
    is the share of the matches found by the other rules that it finds too, and a match escapes
    every rule with the product of their misses. ``found`` has one row per linked pair and one
    boolean column per rule; None with fewer than two rules (nothing to recapture with).

    >>> found = pd.DataFrame({"a": [True, True, False, True], "b": [True, False, True, True]})
    >>> estimate = capture_recapture_loss(found)
    >>> round(estimate["lost_share"], 4), round(estimate["lost"], 2)
    (0.1111, 0.5)
    """
    if found.shape[1] < 2 or not len(found):
        return None
    caught = found.to_numpy(dtype=bool)
    recall = []
    for rule in range(caught.shape[1]):
        others = np.delete(caught, rule, axis=1).any(axis=1)
        if not others.any():
            return None
        recall.append(caught[others, rule].mean())
    missed = float(np.prod(1 - np.array(recall)))
    lost = len(found) * missed / (1 - missed) if missed < 1 else float("inf")
    return {"pairs": len(found), "lost": lost, "lost_share": missed, "caveat": RECAPTURE_CAVEAT}


def estimated_quality(probabilities: np.ndarray, threshold: float) -> dict[str, Any]:
    """Without true links, the model's own precision and recall at ``threshold``: the mean
    probability of the pairs it links, and their share of all the probability mass.

    >>> round(estimated_quality(np.array([0.9, 0.8, 0.1]), 0.5)["precision"], 4)
    0.85
    """
    above = probabilities >= threshold
    mass = float(probabilities.sum())
    return {"precision": float(probabilities[above].mean()) if above.any() else float("nan"),
            "recall": float(probabilities[above].sum() / mass) if mass else float("nan"), "caveat": CAVEAT}
