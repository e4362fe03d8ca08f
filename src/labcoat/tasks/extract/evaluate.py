"""Entity-level scores: precision, recall and F1 of exact spans (same start, end and label),
per entity type and overall (micro-averaged, as conlleval), each with a 95% bootstrap interval
over documents; the confusion between types (same span, another label); missed entities.

Examples
--------
>>> gold = [[(0, 5, "PER"), (10, 15, "LOC")], [(0, 3, "ORG")]]
>>> found = [[(0, 5, "PER"), (10, 15, "ORG")], []]
>>> scores = entity_scores(gold, found, resamples=0)
>>> scores.loc["overall", ["precision", "recall", "f1", "support"]].tolist()
[0.5, 0.3333333333333333, 0.4, 3.0]
>>> int(confusion(gold, found).loc["LOC", "ORG"])
1
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

Span = tuple[int, int, str]
OVERALL = "overall"
#: Bootstrap resamples of the documents behind each interval.
RESAMPLES = 1000


def _counts(gold: Sequence[Sequence[Span]], found: Sequence[Sequence[Span]],
            labels: list[str]) -> np.ndarray:
    """Per document and label (then overall): true positives, found, gold entities."""
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(gold), len(labels) + 1, 3), dtype=np.int64)
    for d, (g, f) in enumerate(zip(gold, found)):
        g_set, f_set = set(g), set(f)
        for span in g_set & f_set:
            counts[d, index[span[2]], 0] += 1
        for span in f_set:
            counts[d, index[span[2]], 1] += 1
        for span in g_set:
            counts[d, index[span[2]], 2] += 1
    counts[:, -1] = counts[:, :-1].sum(axis=1)
    return counts


def _prf(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 from (..., 3) totals (0 where undefined: nothing found or no gold)."""
    tp, found, gold = (totals[..., i].astype(float) for i in range(3))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(found > 0, tp / found, 0.0)
        recall = np.where(gold > 0, tp / gold, 0.0)
        f1 = np.where(found + gold > 0, 2 * tp / (found + gold), 0.0)
    return precision, recall, f1


def entity_scores(gold: Sequence[Sequence[Span]], found: Sequence[Sequence[Span]], *,
                  resamples: int = RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """Precision, recall, F1 (and their 95% intervals: ``*_low``, ``*_high``), support (gold
    entities) and found entities per label, then ``overall``, for documents' ``gold`` and
    ``found`` entities ((start, end, label) spans; any offsets: character or token).
    Intervals are percentiles of ``resamples`` bootstrap samples of the documents (none when 0)."""
    if len(gold) != len(found):
        raise ValueError(f"{len(gold)} documents of gold entities but {len(found)} of found ones.")
    labels = sorted({s[2] for doc in [*gold, *found] for s in doc})
    counts = _counts(gold, found, labels)
    precision, recall, f1 = _prf(counts.sum(axis=0))
    table = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1,
                          "support": counts[:, :, 2].sum(axis=0).astype(float),
                          "found": counts[:, :, 1].sum(axis=0).astype(float)},
                         index=pd.Index([*labels, OVERALL], name="label"))
    if resamples and len(gold) > 1:
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(len(gold), np.full(len(gold), 1 / len(gold)), size=resamples)
        totals = np.einsum("bd,dlk->blk", weights, counts)
        for name, values in zip(("precision", "recall", "f1"), _prf(totals)):
            table[f"{name}_low"] = np.percentile(values, 2.5, axis=0)
            table[f"{name}_high"] = np.percentile(values, 97.5, axis=0)
    return table


def confusion(gold: Sequence[Sequence[Span]], found: Sequence[Sequence[Span]]) -> pd.DataFrame:
    """Gold label (rows) × found label (columns) of the spans found exactly with another label,
    and, in column ``(missed)``, gold entities whose span was not found at all."""
    labels = sorted({s[2] for doc in [*gold, *found] for s in doc})
    columns = [*labels, "(missed)"]
    cells = np.zeros((len(labels), len(columns)), dtype=np.int64)
    for g, f in zip(gold, found):
        by_span = {(s, e): label for s, e, label in f}
        for s, e, label in g:
            other = by_span.get((s, e))
            cells[labels.index(label), columns.index("(missed)" if other is None else other)] += 1
    return pd.DataFrame(cells, index=pd.Index(labels, name="gold"), columns=columns)


def misses(texts: Sequence[str], gold: Sequence[Sequence[Span]], found: Sequence[Sequence[Span]], *,
           limit: int = 20) -> pd.DataFrame:
    """Up to ``limit`` errors with their text: gold entities not found (``missed``), found
    entities that are not gold (``spurious``; ``wrong label`` when the span is gold's)."""
    rows = []
    for d, (text, g, f) in enumerate(zip(texts, gold, found)):
        g_set, f_set = set(g), set(f)
        gold_spans = {(s, e): label for s, e, label in g}
        for s, e, label in sorted(g_set - f_set):
            rows.append({"document": d, "error": "missed", "text": text[s:e], "gold": label, "found": None,
                         "sentence": text})
        for s, e, label in sorted(f_set - g_set):
            wrong = (s, e) in gold_spans
            rows.append({"document": d, "error": "wrong label" if wrong else "spurious", "text": text[s:e],
                         "gold": gold_spans.get((s, e)), "found": label, "sentence": text})
        if len(rows) >= limit:
            break
    return pd.DataFrame(rows[:limit], columns=["document", "error", "text", "gold", "found", "sentence"])
