"""The model report's words for a text-first model: per class the n-grams that push hardest,
and a few training documents with each word coloured by how it moved the prediction (green
towards the class shown, red away), from ``labcoat.evaluate.text_explanation``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.evaluate.text_explanation import class_ngrams, has_text_explanations, highlighted

if TYPE_CHECKING:
    from labcoat.model import Model

#: Documents of the model's input example shown highlighted.
SHOWN = 3


def text_tables(model: Model, top: int = 12) -> dict[str, Any] | None:
    """``{"ngrams": {class: [(ngram, weight)]}, "documents": [{"label", "predicted", "pieces"}]}``:
    ``label`` is the class the colours point to (green towards it), each piece ``(text, css colour
    or "")``; None when the model has no linear text members."""
    if not has_text_explanations(model):
        return None
    table = class_ngrams(model, top=top)
    ngrams = {str(c): list(zip(g["ngram"], g["weight"].round(3))) for c, g in table.groupby("class", sort=False)}
    documents = []
    example = getattr(model, "example", None)
    if example is not None and len(example):
        rows = model.schema.prepare(example.head(SHOWN), warn=False)
        output = np.asarray(model.raw_output(example.head(SHOWN))).reshape(len(rows), -1)
        classes = [int(np.argmax(p)) if output.shape[1] > 2 else 0 for p in output]
        predicted = model.predict(example.head(SHOWN))
        for pieces, label, said in zip(highlighted(model, rows, classes), _labels(model, classes), predicted):
            scale = max((abs(s) for _, s in pieces), default=0.0) or 1.0
            documents.append({"label": label, "predicted": str(said),
                              "pieces": [(text, _colour(score / scale)) for text, score in pieces]})
    return {"ngrams": ngrams, "documents": documents}


def _labels(model: Model, classes: list[int]) -> list[str]:
    names = model.schema.classes
    if names is None:
        return [f"higher {model.schema.target}"] * len(classes)
    return [str(names[1] if len(names) == 2 else names[k]) for k in classes]


def _colour(share: float) -> str:
    """A background for a word's share of the largest contribution (-1..1); none below 5%."""
    if abs(share) < 0.05:
        return ""
    alpha = round(min(abs(share), 1.0) * 0.6, 2)
    return f"rgba(22,163,74,{alpha})" if share > 0 else f"rgba(220,38,38,{alpha})"
