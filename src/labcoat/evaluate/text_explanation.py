"""Explanations in words of a text-first model, read from its linear text members
(``text_linear``, ``text_svm``, ``nbsvm``): per class, the n-grams that push hardest
(:func:`class_ngrams`); per document, the words that decided its prediction
(:func:`document_words`) and each word's share, for highlighting (:func:`word_marks`).

A member's weight of n-gram j is in log-odds of the class (``models.text.log_odds_weights``); a
document's contribution of j is that weight times its TF-IDF value in the document. The
members' weights and contributions are averaged with their ensemble weights (renormalised over
the text members): what the linear text models say, not the other members of the ensemble, and
in log-odds, not in probability. Character n-grams and other columns are left out of the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labcoat.features.text import WORDS
from labcoat.models.text import log_odds_weights

if TYPE_CHECKING:
    from labcoat.model import Model


@dataclass
class _Part:
    """One linear text member: its share, its n-gram vocabulary and weights, its preprocessor."""

    share: float
    ngrams: np.ndarray
    #: (classes or 1, n-grams): log-odds per unit of TF-IDF.
    weights: np.ndarray
    preprocessor: Any
    block: slice


def _parts(model: Model) -> list[_Part]:
    documents = model.schema.documents
    if documents is None:
        return []
    found = []
    for m in model.members:
        pre = model.preprocessors.get(m.preprocessor or m.style)
        weights = log_odds_weights(m.estimator)
        if weights is None or pre is None or WORDS + documents.column not in getattr(pre, "output_indices_", {}):
            continue
        block = pre.output_indices_[WORDS + documents.column]
        vectorizer = pre.named_transformers_[WORDS + documents.column]
        found.append(_Part(m.weight, vectorizer.get_feature_names_out(), weights[:, block], pre, block))
    total = sum(p.share for p in found)
    for p in found:
        p.share /= total
    return found


def _class_rows(model: Model) -> list[tuple[str, int, float]]:
    """(label, weight row, sign) per class: with two classes one row serves both, negated for
    the first class; a regressor's one row is 'higher'."""
    classes = model.schema.classes
    if classes is None:
        return [(f"higher {model.schema.target}", 0, 1.0), (f"lower {model.schema.target}", 0, -1.0)]
    if len(classes) == 2:
        return [(str(classes[1]), 0, 1.0), (str(classes[0]), 0, -1.0)]
    return [(str(c), k, 1.0) for k, c in enumerate(classes)]


def has_text_explanations(model: Model) -> bool:
    """Whether ``model`` has linear text members to read words from."""
    return bool(_parts(model))


def class_ngrams(model: Model, top: int = 10) -> pd.DataFrame:
    """Per class, the ``top`` n-grams that push hardest towards it: ``class``, ``ngram``,
    ``weight`` (log-odds per unit of TF-IDF, averaged over the text members); empty without
    text members.

    Examples
    --------
    >>> class_ngrams(model).query("`class` == 'pos'").head(3)  # doctest: +SKIP
      class    ngram  weight
    0   pos  perfect   4.91
    """
    parts = _parts(model)
    rows = []
    for label, k, sign in _class_rows(model) if parts else []:
        merged: dict[str, float] = {}
        for p in parts:
            for ngram, w in zip(p.ngrams, p.weights[min(k, len(p.weights) - 1)]):
                if w:
                    merged[ngram] = merged.get(ngram, 0.0) + p.share * sign * float(w)
        best = sorted(merged.items(), key=lambda item: -item[1])[:top]
        rows += [{"class": label, "ngram": g, "weight": w} for g, w in best if w > 0]
    return pd.DataFrame(rows, columns=["class", "ngram", "weight"])


def document_words(model: Model, prepared: pd.DataFrame, classes: list[int], top: int = 10) -> pd.DataFrame:
    """For each row of ``prepared`` (``schema.prepare``'s frame), the ``top`` n-grams that
    moved its log-odds of class ``classes[i]`` (an index; 0 for two classes or a regressor)
    most: ``row`` (position in ``prepared``), ``ngram``, ``contribution`` (signed). Empty
    without text members."""
    per_row = _contributions(model, prepared, classes)
    rows = []
    for i, merged in enumerate(per_row):
        for ngram, c in sorted(merged.items(), key=lambda item: -abs(item[1]))[:top]:
            rows.append({"row": i, "ngram": ngram, "contribution": c})
    return pd.DataFrame(rows, columns=["row", "ngram", "contribution"])


def _contributions(model: Model, prepared: pd.DataFrame, classes: list[int]) -> list[dict[str, float]]:
    parts = _parts(model)
    per_row: list[dict[str, float]] = [{} for _ in range(len(prepared))]
    for p in parts:
        words = sp.csr_matrix(p.preprocessor.transform(prepared))[:, p.block]
        for i in range(len(prepared)):
            row = words.getrow(i)
            k = min(classes[i], len(p.weights) - 1)
            for j, value in zip(row.indices, row.data):
                c = p.share * float(p.weights[k, j]) * float(value)
                if c:
                    per_row[i][p.ngrams[j]] = per_row[i].get(p.ngrams[j], 0.0) + c
    return per_row


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def word_marks(document: str, contributions: dict[str, float]) -> list[tuple[str, float]]:
    """``document`` cut into (text, score) pieces for highlighting: each word scored by its
    unigram's contribution plus half of each bigram's it is part of (spread over the bigram's
    occurrences); the text between words scores 0.

    Examples
    --------
    >>> word_marks("A great, great film", {"great": 0.4, "film": -0.1, "great film": 0.2})
    [('A ', 0.0), ('great', 0.2), (', ', 0.0), ('great', 0.3), (' ', 0.0), ('film', 0.0)]
    """
    matches = list(_TOKEN.finditer(document))
    tokens = [m.group().lower() for m in matches]
    counts: dict[str, int] = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    pairs = [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
    pair_counts: dict[str, int] = {}
    for pair in pairs:
        pair_counts[pair] = pair_counts.get(pair, 0) + 1
    scores = [contributions.get(t, 0.0) / counts[t] for t in tokens]
    for i, pair in enumerate(pairs):
        half = contributions.get(pair, 0.0) / pair_counts[pair] / 2
        scores[i] += half
        scores[i + 1] += half
    pieces, at = [], 0
    for m, score in zip(matches, scores):
        if m.start() > at:
            pieces.append((document[at:m.start()], 0.0))
        pieces.append((m.group(), round(score, 6)))
        at = m.end()
    if at < len(document):
        pieces.append((document[at:], 0.0))
    return pieces


def highlighted(model: Model, documents: pd.DataFrame, classes: list[int], limit: int = 2000) -> list[list[tuple[str, float]]]:
    """Each row's document (its first ``limit`` characters) as :func:`word_marks` pieces."""
    column = model.schema.documents.column if model.schema.documents else None
    if column is None:
        return []
    per_row = _contributions(model, documents, classes)
    return [word_marks(str(doc)[:limit], merged) for doc, merged in zip(documents[column], per_row)]
