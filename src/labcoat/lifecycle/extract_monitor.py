"""Monitoring an extraction model: the rate of each entity type (per 1,000 tokens) and the
length of the texts in a window of new texts (a table's text column, or the texts ``labcoat
serve`` answered on ``/extract``) against the training reference the model holds
(:mod:`labcoat.tasks.extract.text_profile`).

- An entity type's **rate** has shifted when it moved by at least ``tolerance`` (relative:
  0.1 is ±10%) *and* a z-test of the two rates, with standard errors over documents (entities
  cluster within documents), gives p below ``ALPHA`` divided by the number of types
  (Bonferroni).
- The texts' **length** (tokens per document) has shifted when the population stability index
  over the training deciles reaches :data:`PSI_THRESHOLD` *and* the chi-square test of the
  2 × 10 table of documents per bin gives p < ``ALPHA``.

Either is exit code 1; both conditions together keep a small window's noise and a large
window's trifle from raising it. Fewer than :data:`MIN_DOCUMENTS` texts is an error (exit 2).

On CoNLL-2003 (models fitted on 1,000 and on 3,000 random sentences of its training set, 8 s
budget), none of 40 windows of 400-500 other random sentences, nor 2 of 5,000, was called
shifted; its sentences 200-700 (mostly sports results) against a model of its first 200 were
(LOC -43%, PER +82% per 1,000 tokens; median length 9 tokens against 14).

Examples
--------
>>> check = check_extract_texts(model, new_texts["body"])     # doctest: +SKIP
>>> check["exit_code"], check["summary"][0]                    # doctest: +SKIP
(1, 'The entities or the texts have shifted: 1 of 4 entity types, text length stable; 500 texts (...).')
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.monitoring.stattests import chisquare, psi
from labcoat.tasks.extract.text_profile import rate, text_profile

#: Significance level (divided among the entity types for their rates).
ALPHA = 0.01
#: Relative change of an entity type's rate tolerated (``labcoat monitor --tolerance``).
TOLERANCE = 0.1
#: PSI of the texts' lengths from which a significant shift is material.
PSI_THRESHOLD = 0.1
#: Fewest texts in a window.
MIN_DOCUMENTS = 30


def text_column(frame: pd.DataFrame, column: str | None) -> list[str]:
    """The texts of ``frame``'s ``column`` (when None: ``text``, or its only text column),
    missing ones left out with a notice.

    >>> text_column(pd.DataFrame({"id": [1, 2], "body": ["a b", "c"]}), None)
    ['a b', 'c']
    """
    if column is None:
        candidates = ["text"] if "text" in frame.columns else [
            str(c) for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
        if len(candidates) != 1:
            raise DataError(f"Say which column holds the texts (--column); the table's columns are "
                            f"{', '.join(map(str, frame.columns))}.")
        column = candidates[0]
    if column not in frame.columns:
        raise DataError(f"No column '{column}' among the table's columns ({', '.join(map(str, frame.columns))}).")
    values = frame[column]
    missing = values.isna()
    if missing.any():
        warnings.warn(f"{int(missing.sum()):,} rows have no text in '{column}'; they are left out.", LabcoatNotice,
                      stacklevel=2)
    bad = [(i, v) for i, v in zip(values.index[~missing], values[~missing]) if not isinstance(v, str)]
    if bad:
        raise DataError(f"Column '{column}' must hold texts; row {bad[0][0]} holds {bad[0][1]!r}.")
    return values[~missing].tolist()


def reference_of(model: Any) -> dict[str, Any]:
    """The training profile ``model`` holds (a :class:`ConfigError` when it has none)."""
    reference = model.info.get("text_profile")
    if not reference:
        raise ConfigError("This extraction model holds no training profile of its texts (saved by an older "
                          "labcoat); fit it again to monitor it.")
    return dict(reference)


def check_extract_texts(model: Any, texts: Sequence[str], *, tolerance: float = TOLERANCE,
                        source: str = "the given texts") -> dict[str, Any]:
    """The check of ``texts`` (the entities ``model`` finds in them) against training, as a
    JSON-able dict: ``documents``, ``types`` (per entity type: rates per 1,000 tokens in
    training and now, relative change, p-value, shifted), ``length``, ``shifted``, ``summary``
    (words), ``exit_code`` (0 or 1)."""
    texts = list(texts)
    _enough(len(texts), source)
    reference = reference_of(model)
    found = model.extract(texts)
    current = text_profile(texts, found, list(reference["types"]), edges=reference["length_edges"])
    return compare(reference, current, tolerance=tolerance, source=source)


def check_logged_texts(model: Any, log_path: str | Path, *, since: float | None = None,
                       tolerance: float = TOLERANCE) -> dict[str, Any]:
    """:func:`check_extract_texts` over the texts ``labcoat serve`` answered on ``/extract`` and
    the entities it answered with (the log at ``log_path``, requests since ``since``)."""
    from labcoat.serve.predlog import read_log

    if not Path(log_path).exists():
        raise ConfigError(f"No prediction log at '{log_path}'; pass the --log of `labcoat serve`.")
    texts: list[str] = []
    documents: list[int] = []
    labels: list[str] = []
    for entry in read_log(log_path, since=since):
        if entry.get("endpoint") != "/extract":
            continue
        for given, answered in zip(entry["inputs"], entry["outputs"]):
            documents += [len(texts)] * len(answered["entities"])
            labels += [e["label"] for e in answered["entities"]]
            texts.append(given["text"])
    source = f"the {len(texts):,} texts answered on /extract" + (" in the window" if since else "")
    _enough(len(texts), source)
    reference = reference_of(model)
    current = text_profile(texts, pd.DataFrame({"document": documents, "label": labels}), list(reference["types"]),
                           edges=reference["length_edges"])
    return compare(reference, current, tolerance=tolerance, source=source)


def _enough(documents: int, source: str) -> None:
    if documents < MIN_DOCUMENTS:
        raise DataError(f"Only {documents} texts in {source}: at least {MIN_DOCUMENTS} are needed to compare them "
                        "with training; give more texts or a wider window.")


def compare(reference: dict[str, Any], current: dict[str, Any], *, tolerance: float = TOLERANCE,
            source: str = "the given texts") -> dict[str, Any]:
    """Two profiles compared (see the module docstring); the check's JSON-able dict."""
    if not tolerance > 0:
        raise ConfigError(f"The tolerance (relative change of an entity rate) must be positive; got {tolerance!r}.")
    labels = list(reference["types"])
    level = ALPHA / max(1, len(labels))
    types = [_rate_change(reference, current, label, tolerance, level) for label in labels]
    length = _length_change(reference, current)
    moved = [t for t in types if t["shifted"]]
    shifted = bool(moved) or length["shifted"]
    verdict = "The entities or the texts have shifted" if shifted else "No shift in the entities or the texts"
    summary = [f"{verdict}: {len(moved)} of {len(labels)} entity types, text length "
               f"{'shifted' if length['shifted'] else 'stable'}; {current['documents']:,} texts ({source})."]
    summary.append("Entities per 1,000 tokens, training → now: "
                   + ", ".join(f"{t['label']} {t['training_rate']:.1f} → {t['current_rate']:.1f}" for t in types)
                   + f"; median length {length['training_median']:g} → {length['current_median']:g} tokens.")
    for t in sorted(types, key=lambda t: t["p_value"]):
        if t["shifted"]:
            summary.append(f"{t['label']}: {t['training_rate']:.1f} per 1,000 tokens in training, "
                           f"{t['current_rate']:.1f} now ({_signed(t['change'])}, p {_p(t['p_value'])}).")
    if length["shifted"]:
        longer = "longer" if length["current_median"] >= length["training_median"] else "shorter"
        summary.append(f"The texts are {longer}: median {length['training_median']:g} tokens in training, "
                       f"{length['current_median']:g} now (PSI {length['psi']:.3f}, chi-square p "
                       f"{_p(length['p_value'])}).")
    return {"documents": int(current["documents"]), "tokens": int(current["tokens"]),
            "training_documents": int(reference["documents"]), "types": types, "length": length,
            "tolerance": tolerance, "alpha": ALPHA, "shifted": shifted, "summary": summary, "source": source,
            "exit_code": 1 if shifted else 0}


def _rate_change(reference: dict[str, Any], current: dict[str, Any], label: str, tolerance: float,
                 level: float) -> dict[str, Any]:
    """One entity type's rates per 1,000 tokens, their relative change and the z-test's p."""
    trained, trained_se = rate(reference, label)
    now, now_se = rate(current, label)
    se = math.hypot(trained_se, now_se)
    difference = now - trained
    p_value = float(2 * stats.norm.sf(abs(difference) / se)) if se > 0 else (1.0 if difference == 0 else 0.0)
    change = difference / trained if trained > 0 else (math.inf if now > 0 else 0.0)
    shifted = bool(abs(change) >= tolerance and p_value < level)
    return {"label": label, "training_rate": round(trained, 3), "current_rate": round(now, 3),
            "training_se": round(trained_se, 3), "current_se": round(now_se, 3),
            "change": round(change, 4) if math.isfinite(change) else None, "p_value": p_value,
            "entities": int(current["types"][label]["entities"]), "shifted": shifted}


def _length_change(reference: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The texts' lengths over the training deciles: PSI and the chi-square test."""
    trained = np.asarray(reference["length_counts"], dtype=float)
    now = np.asarray(current["length_counts"], dtype=float)
    index = psi(trained, now)
    p_value = chisquare(trained, now)[1]
    return {"psi": round(index, 4), "p_value": p_value, "psi_threshold": PSI_THRESHOLD,
            "training_median": reference["median_tokens"], "current_median": current["median_tokens"],
            "edges": reference["length_edges"], "training_share": (trained / trained.sum()).round(4).tolist(),
            "current_share": (now / now.sum()).round(4).tolist(),
            "shifted": bool(index >= PSI_THRESHOLD and p_value < ALPHA)}


def _signed(change: float | None) -> str:
    return "new" if change is None else f"{change:+.0%}"


def _p(p_value: float) -> str:
    return "< 0.0001" if p_value < 1e-4 else f"= {p_value:.4f}"
