"""What monitoring compares between texts an extraction model saw in training and new ones: a
profile of a set of documents with the entities found in them.

The profile holds sums, not documents (it is JSON and small whatever the corpus): the number of
documents and of tokens (as the model's tokenizer cuts them), the documents' lengths in tokens
counted over ten bins (inner edges at the reference's deciles), and per entity type the
sums from which its rate per 1,000 tokens and that rate's standard error over documents follow
(``entities``: Σc, ``entities_sq``: Σc², ``cross``: Σc·t, with ``tokens_sq``: Σt²). Documents,
not tokens, are the units: entities cluster within documents, so a test that took tokens as
independent would call chance differences shifts.

The training reference (:func:`reference_profile`, kept in the model's ``info``) takes its
lengths from every training text and its entity rates from the held-out texts as the model that
was scored on them found them: the entities a model finds in new text are fewer or more than the
gold ones by its recall and precision, so gold rates would be a biased reference, and the
training texts' own predictions an optimistic one.

Examples
--------
>>> import pandas as pd
>>> texts = ["Peter met Anna in Paris .", "No one here ."]
>>> found = pd.DataFrame({"document": [0, 0, 0], "label": ["PER", "PER", "LOC"]})
>>> p = text_profile(texts, found, ["LOC", "PER"])
>>> p["documents"], p["tokens"], p["types"]["PER"]["entities"], p["types"]["PER"]["cross"]
(2, 10, 2, 12.0)
>>> token_counts(["Hello, world!", ""]).tolist()
[4, 0]
>>> r = reference_profile(texts, texts[:1], [[(0, 5, "PER")]], ["PER"])
>>> r["documents"], r["length_documents"], r["types"]["PER"]["entities"]
(1, 2, 1)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labcoat.tasks.extract.tokens import tokenize

#: Bins of the documents' lengths (deciles of the reference's).
LENGTH_BINS = 10


def token_counts(texts: Sequence[str]) -> np.ndarray:
    """Each text's number of tokens (:func:`~labcoat.tasks.extract.tokens.tokenize`)."""
    return np.fromiter((len(tokenize(t)) for t in texts), dtype=np.int64, count=len(texts))


def length_edges(lengths: np.ndarray) -> list[float]:
    """Inner bin edges of documents' lengths: the distinct deciles of ``lengths``.

    >>> length_edges(np.arange(1, 101))
    [10.9, 20.8, 30.7, 40.6, 50.5, 60.4, 70.3, 80.2, 90.1]
    """
    if len(lengths) == 0:
        return []
    inner = np.quantile(lengths.astype(float), np.linspace(0, 1, LENGTH_BINS + 1)[1:-1])
    return sorted({round(float(e), 6) for e in inner})


def length_counts(lengths: np.ndarray, edges: Sequence[float]) -> list[int]:
    """Documents per length bin: below or at the first edge, ..., above the last."""
    return np.bincount(np.searchsorted(np.asarray(edges, dtype=float), lengths, side="left"),
                       minlength=len(edges) + 1).tolist()


def text_profile(texts: Sequence[str], entities: pd.DataFrame, labels: Sequence[str], *,
                 edges: Sequence[float] | None = None) -> dict[str, Any]:
    """The profile of ``texts`` with their ``entities`` (a frame with the ``document`` each is
    in, its position in ``texts``, and its ``label``), for the entity types ``labels``; the
    length bins are cut at ``edges`` (the reference's), or at ``texts``' deciles."""
    lengths = token_counts(texts)
    edges = length_edges(lengths) if edges is None else list(edges)
    types: dict[str, dict[str, float]] = {}
    for label in labels:
        mine = entities["document"][entities["label"] == label].to_numpy(dtype=np.int64)
        counts = np.bincount(mine, minlength=len(texts))[: len(texts)].astype(float)
        types[str(label)] = {"entities": int(counts.sum()), "entities_sq": float(counts @ counts),
                             "cross": float(counts @ lengths)}
    return {"documents": len(texts), "tokens": int(lengths.sum()), "tokens_sq": float(lengths.astype(float) @ lengths),
            "median_tokens": float(np.median(lengths)) if len(lengths) else 0.0,
            "length_edges": edges, "length_counts": length_counts(lengths, edges), "types": types}


def reference_profile(texts: Sequence[str], held_out: Sequence[str], found: Sequence[Sequence[tuple[int, int, str]]],
                      labels: Sequence[str]) -> dict[str, Any]:
    """The training reference: the lengths of every training text (``texts``), and the entity
    rates of the ``held_out`` texts with the (start, end, label) spans ``found`` in each by the
    model scored on them."""
    lengths = text_profile(texts, pd.DataFrame({"document": [], "label": []}), [])
    spans = pd.DataFrame([(d, label) for d, spans in enumerate(found) for _, _, label in spans],
                         columns=["document", "label"])
    profile = text_profile(held_out, spans, labels, edges=lengths["length_edges"])
    profile.update({key: lengths[key] for key in ("length_counts", "median_tokens")},
                   length_documents=len(texts))
    return profile


def rate(profile: dict[str, Any], label: str) -> tuple[float, float]:
    """The rate of ``label`` entities per 1,000 tokens in ``profile`` and its standard error,
    documents as clusters (the ratio estimator's linearisation: Σ(cᵢ − R tᵢ)² / (Σt)², times
    n / (n − 1)).

    Two documents of 10 tokens, one with 2 names, one with none:

    >>> p = {"documents": 2, "tokens": 20, "tokens_sq": 200.0,
    ...      "types": {"PER": {"entities": 2, "entities_sq": 4.0, "cross": 20.0}}}
    >>> [round(x, 6) for x in rate(p, "PER")]
    [100.0, 100.0]
    """
    n, tokens = int(profile["documents"]), float(profile["tokens"])
    sums = profile["types"].get(label, {"entities": 0, "entities_sq": 0.0, "cross": 0.0})
    if tokens <= 0:
        return 0.0, 0.0
    r = float(sums["entities"]) / tokens
    spread = max(0.0, float(sums["entities_sq"]) - 2 * r * float(sums["cross"]) + r * r * float(profile["tokens_sq"]))
    variance = spread / tokens ** 2 * (n / (n - 1) if n > 1 else 1.0)
    return 1000 * r, 1000 * float(np.sqrt(variance))
