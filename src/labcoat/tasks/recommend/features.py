"""Item and user side tables: item similarity by features, and user segments for cold start.

:func:`item_features` turns an ``items`` table into a sparse TF-IDF matrix of tokens: each word
of a text or category column (``genres=comedy``), the whole value of a low-cardinality column
(``category=books``), and the quintile of a numeric one (``release_year=q4``); rows are
L2-normalised, so a dot product is a cosine. It finds neighbours for items that have no
interactions yet. :func:`segment_column` picks the users table's column that cold-start users
are grouped by.

Examples
--------
>>> import pandas as pd
>>> items = pd.DataFrame({"id": [1, 2, 3], "genres": ["Comedy Drama", "Comedy", "Horror"]})
>>> f = item_features(items, "id")
>>> [round(float(v), 2) for v in (f @ f[0].T).toarray().ravel()]
[1.0, 0.61, 0.0]
>>> segment_column(pd.DataFrame({"id": [1, 2, 3, 4], "age": [20, 30, 40, 50], "plan": ["a", "b", "a", "b"]}), "id")
'plan'
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: A column with at most this share of distinct values is also taken as a category (its whole value
#: a token), and, for users, can define segments.
CATEGORY_SHARE = 0.5
#: Quantile bins of numeric item columns.
BINS = 5
#: Segments with more values than this are not used for cold start (too thin to count on).
MAX_SEGMENTS = 50


def item_features(items: pd.DataFrame, key: str) -> sp.csr_matrix:
    """The L2-normalised TF-IDF token matrix of ``items`` (one row per row of the table)."""
    items = items.reset_index(drop=True)  # the words' index below is then the row position
    n = len(items)
    rows: list[np.ndarray] = []
    tokens: list[np.ndarray] = []
    for column in items.columns:
        if column == key:
            continue
        values = items[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce")
            if numbers.nunique() > BINS:
                binned = pd.qcut(numbers, BINS, labels=False, duplicates="drop")
                present = binned.notna().to_numpy()
                rows.append(np.flatnonzero(present))
                tokens.append((f"{column}=q" + binned[present].astype(int).astype(str)).to_numpy())
                continue
        text = values.astype("string")
        present = text.notna().to_numpy()
        if values.nunique() <= max(CATEGORY_SHARE * n, 1):
            rows.append(np.flatnonzero(present))
            tokens.append((f"{column}=" + text[present].str.lower()).to_numpy(dtype=object))
        words = text.str.lower().str.findall(r"[^\W_]+").explode().dropna()
        rows.append(words.index.to_numpy(dtype=np.int64))
        tokens.append((f"{column}:" + words.astype(str)).to_numpy(dtype=object))
    if not rows:
        return sp.csr_matrix(np.zeros((n, 0), dtype=np.float32))
    row = np.concatenate(rows)
    codes, vocabulary = pd.factorize(np.concatenate(tokens))
    matrix = sp.csr_matrix((np.ones(len(row), dtype=np.float32), (row, codes)), shape=(n, len(vocabulary)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a token repeated in a row counts once
    idf = np.log((1 + n) / (1 + np.diff(matrix.tocsc().indptr))) + 1
    matrix = sp.csr_matrix(matrix.multiply(idf[None, :]), dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1 / np.where(norms > 0, norms, 1.0)) @ matrix, dtype=np.float32)


def segment_column(users: pd.DataFrame, key: str) -> str | None:
    """The first non-numeric column of ``users`` with 2 to :data:`MAX_SEGMENTS` values, each
    shared by several users (a category such as a segment, a plan, a country), or None."""
    for column in users.columns:
        if column == key:
            continue
        values = users[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        distinct = values.nunique()
        if 2 <= distinct <= min(MAX_SEGMENTS, CATEGORY_SHARE * len(values)):
            return str(column)
    return None
