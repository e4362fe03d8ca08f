"""Is this a text-first table? The text column that carries the signal, named by the user
(``text_column=``) or found by a quick check, becomes ``schema.documents``: the search then adds
the text families (``labcoat.models.text``).

The check: each text column of documents (at least :data:`MIN_WORDS` words on average, mostly
distinct values: not notes picked from a list, not names) alone (at most :data:`CHECK_ROWS` rows,
word TF-IDF and a linear model, 3 folds) must reach a skill of :data:`MIN_SKILL` (2 x ROC AUC - 1
for classes, averaged one against the rest; R² for numbers); the most skilful column wins. It
takes about a second.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from labcoat.data.columns import Column, Role
from labcoat.data.documents import CHARACTER_NGRAMS_MAX, Documents, document_notices
from labcoat.data.schema import Schema
from labcoat.data.split import Resampling
from labcoat.errors import ConfigError, LabcoatNotice, did_you_mean
from labcoat.features.text import embedding_library
from labcoat.tasks import Task

#: Rows the quick check reads (a stratified sample for classes).
CHECK_ROWS = 400
#: The skill a text column alone must reach to carry the signal.
MIN_SKILL = 0.2
#: Words a text column's values must have on average to be taken for documents.
MIN_WORDS = 5


def choose_documents(frame: pd.DataFrame, schema: Schema, task: Task, *, text_column: str | None = None,
                     embeddings: str | None = None, seed: int = 0) -> Documents | None:
    """The documents of ``frame`` (training rows with the target), or None when no text
    column carries the signal; the named column's role becomes text. Notices about the
    documents (empty, long, scripts) are issued here.

    Raises :class:`ConfigError` for a ``text_column`` that is not a feature column, or
    ``embeddings`` without a text column or with a folder no library reads.
    """
    if embeddings is not None:
        embedding_library(embeddings)
    if text_column is not None:
        column = _named_column(schema, text_column)
        if column.role is not Role.TEXT:
            schema.columns[schema.columns.index(column)] = replace(
                column, role=Role.TEXT, categories=None, reason="free text (named by text_column)")
        name: str | None = text_column
    else:
        name = _carrying_signal(frame, schema, task, seed)
        if name is None and embeddings is not None:
            texts = schema.names(Role.TEXT)
            if not texts:
                raise ConfigError("embeddings= needs a column of documents, and the data has no text column: "
                                  "name it with text_column= (--text-column).")
            name = texts[0]
    if name is None:
        return None
    values = frame[name]
    for notice in document_notices(values, name, embeddings=embeddings is not None):
        warnings.warn(notice, LabcoatNotice, stacklevel=3)
    characters = int(values.astype(str).str.len().sum()) <= CHARACTER_NGRAMS_MAX
    return Documents(column=name, characters=characters, embeddings=None if embeddings is None else str(embeddings))


def first_repeat(resampling: Resampling) -> Resampling:
    """The plan's first repeat only: on a text-first table each fold's n-gram TF-IDF costs
    seconds (4-5 s for 1,280 movie reviews on 2 cores), so repeats would leave the search
    a trial or two.

    Examples
    --------
    >>> from labcoat.data.split import choose_resampling
    >>> first_repeat(choose_resampling(np.array([0, 1] * 300), stratify=True, seed=0)).description
    '5-fold cross-validation (stratified; the first of 3 repeats: documents cost seconds a fold to featurize)'
    """
    if resampling.n_repeats < 2:
        return resampling
    one = resampling.folds_per_repeat
    description = resampling.description.replace(f", repeated {resampling.n_repeats} times", "")
    description = description[:-1] + (f"; the first of {resampling.n_repeats} repeats: documents cost seconds a "
                                      "fold to featurize)") if description.endswith(")") else description
    return Resampling(folds=resampling.folds[:one], n_rows=resampling.n_rows, n_repeats=1, description=description)


def _named_column(schema: Schema, name: str) -> Column:
    try:
        column = schema.column(name)
    except KeyError:
        raise ConfigError(f"text_column '{name}' is not a column of the data."
                          f"{did_you_mean(name, [c.name for c in schema.columns])}") from None
    if column.role in (Role.CONSTANT,):
        raise ConfigError(f"text_column '{name}' cannot be the documents: {column.reason}.")
    return column


def _carrying_signal(frame: pd.DataFrame, schema: Schema, task: Task, seed: int) -> str | None:
    """The text column whose words alone predict the target best, if one reaches MIN_SKILL."""
    texts = [name for name in schema.names(Role.TEXT) if _documents_like(frame[name])]
    if not texts:
        return None
    rows = _sample(frame, schema.target, task, seed)
    y = task.encode_target(rows[schema.target], schema.classes)
    skills = {name: text_skill(rows[name], y, task.estimator_type, seed) for name in texts[:5]}
    best = max(skills, key=lambda n: skills[n])
    return best if skills[best] >= MIN_SKILL else None


def _documents_like(values: pd.Series) -> bool:
    """Documents rather than notes picked from a few phrases or short names: at least
    :data:`MIN_WORDS` words on average, and mostly distinct."""
    text = values.dropna().astype(str)
    if not len(text):
        return False
    return bool(text.map(lambda doc: len(doc.split())).mean() >= MIN_WORDS and text.nunique() >= 0.5 * len(text))


def _sample(frame: pd.DataFrame, target: str, task: Task, seed: int) -> pd.DataFrame:
    if len(frame) <= CHECK_ROWS:
        return frame
    if not task.stratified:
        return frame.sample(CHECK_ROWS, random_state=seed)
    from sklearn.model_selection import train_test_split

    try:
        rows, _ = train_test_split(frame, train_size=CHECK_ROWS, stratify=frame[target].astype(str),
                                   random_state=seed)
    except ValueError:  # a class too rare to stratify
        rows = frame.sample(CHECK_ROWS, random_state=seed)
    return rows


def text_skill(values: pd.Series, y: np.ndarray, kind: str, seed: int = 0) -> float:
    """Cross-validated skill of a column's words alone: 2 x ROC AUC - 1 (classes, one against
    the rest) or R² (numbers), over 3 folds.

    Examples
    --------
    >>> words = pd.Series(["great fun", "awful bore", "great cast", "awful plot"] * 15)
    >>> round(text_skill(words, np.array([1, 0, 1, 0] * 15), "classifier"), 2)
    1.0
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

    docs = values.astype("object").map(lambda v: "" if v is None or v != v else str(v))
    try:
        X = TfidfVectorizer(min_df=2, max_features=20_000, sublinear_tf=True).fit_transform(docs)
    except ValueError:  # no word occurs twice
        return 0.0
    if kind == "regressor":
        folds = KFold(3, shuffle=True, random_state=seed)
        predicted = cross_val_predict(Ridge(alpha=1.0), X, y, cv=folds)
        return float(1 - np.mean((y - predicted) ** 2) / max(float(np.var(y)), 1e-12))
    from sklearn.metrics import roc_auc_score

    if np.bincount(y).min() < 3:
        return 0.0
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    solver = "liblinear" if len(np.unique(y)) == 2 else "lbfgs"
    proba = cross_val_predict(LogisticRegression(C=10.0, solver=solver, max_iter=2000), X, y, cv=folds,
                              method="predict_proba")
    auc = (roc_auc_score(y, proba[:, 1]) if proba.shape[1] == 2
           else roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1])))
    return float(2 * auc - 1)
