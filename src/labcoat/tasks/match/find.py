"""Scoring pairs the fit did not: new records against the fitted ones (``MatchModel.find``,
the service's ``POST /match``) and two given records (``MatchModel.explain``).

Why not Splink's ``predict_between``: it costs ~100 ms a call whatever the number of records
(it writes its SQL again through sqlglot, registers the new records, joins term frequencies
over every fitted record, and DuckDB plans a query of some 500 lines), which a service
answering one record at a time cannot afford. So the work is split where it is cheap:

1. the candidates: each blocking rule's columns of a new record looked up in a dict of the
   fitted records by those columns (built once), missing values agreeing with nothing, as in
   Splink's ``l.col = r.col``;
2. each field's comparison level: Splink's own ``CASE`` statements (the same SQL text its
   predictions run) evaluated by DuckDB on a table of only the candidate pairs, through a
   view parsed once; the string functions (Jaro-Winkler, Damerau-Levenshtein, dates) are
   DuckDB's, as in Splink;
3. the match weight: the levels' weights (log2 m/u), the term-frequency adjustments and the
   prior added in numpy in the order Splink's SQL adds them, from the numbers Splink would
   put in that SQL (its settings objects and its term-frequency tables). Splink's whole
   prediction SQL run on the candidate pairs alone still took ~9 ms, mostly DuckDB planning
   it; its comparison levels alone take ~3 ms.

On FEBRL3 (5,000 records) ``find`` of one new record takes ~6 ms instead of ~100 ms, of three
~9 ms instead of ~220 ms (``benchmarks/matching_serving.py``), and the weights are those of
``predict_between`` (``tests/test_match_serve.py`` checks them on hundreds of
queries, nulls and term-frequency-adjusted levels included; :func:`best_candidates_splink`
is that reference). The numbers come from Splink 5.0.0's settings objects, pinned by the
``match`` extra.

Examples
--------
>>> top_k(np.array(["q", "q", "q"]), np.array(["a", "b", "c"]), np.array([1.0, 5.0, 3.0]), 2)["id"].tolist()
['b', 'c']
"""
from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.tasks.match.comparisons import TERM_FREQUENCY
from labcoat.tasks.match.data import Records
from labcoat.tasks.match.estimate import KEEP_WEIGHT, fetch, register, splink_modules

if TYPE_CHECKING:
    from labcoat.tasks.match.model import MatchModel

_QUERIES = itertools.count()
#: Candidate pairs scored by one DuckDB query at most (more are scored in slices).
PAIRS_PER_QUERY = 200_000
_PAIRS = "__labcoat_pairs"
_GAMMAS = "__labcoat_gammas"


@dataclass(frozen=True)
class _TermFrequency:
    """A level whose weight is adjusted by how common the agreed value is: Splink's
    ``weight * (log2 u_exact - log2(greatest(tf_l, tf_r, minimum)))``."""

    gamma: int
    column: str
    weight: float
    log2_u: float
    minimum: float


@dataclass(frozen=True)
class _Comparison:
    """One field's comparison: its levels' weights by comparison vector value (``-1``, the
    missing level, first) and its term-frequency-adjusted levels."""

    name: str
    weights: np.ndarray  #: weights[gamma + 1]
    adjusted: tuple[_TermFrequency, ...]


class _Scorer:
    """What scoring new records needs, built once per model: a Splink linker on a DuckDB
    database holding the fitted records (for :func:`score_two` and the reference path), the
    fitted records' values, blocking indexes and term frequencies, the weights of every level,
    and a DuckDB view computing the comparison levels of a table of pairs."""

    def __init__(self, model: MatchModel) -> None:
        splink = splink_modules()
        import duckdb
        from splink import DuckDBAPI
        from splink.internals.misc import prob_to_match_weight

        self.db_api = DuckDBAPI()
        records = Records(model.records, model.roles, str(model.info.get("id_column")), model.link)
        self.tables = register(records, self.db_api)
        self.linker = splink.Linker(self.tables, dict(model.settings), log_level=None)
        self.tf: dict[str, dict[str, float]] = {}
        for role in model.roles:
            if role.role in TERM_FREQUENCY:
                table = self.linker.table_management.compute_tf_table(role.column).as_pandas_dataframe()
                self.tf[role.column] = dict(zip(table[role.column].astype(str),
                                                table[f"tf_{role.column}"].astype(float)))
        self.columns = [r.column for r in model.roles]
        self.link = model.link

        settings = self.linker._settings_obj  # Splink 5.0.0's settings: the numbers its SQL is made of
        self.prior = float(prob_to_match_weight(settings.core_model_settings.probability_two_random_records_match))
        self.comparisons = [_comparison(c) for c in settings.comparisons]
        fitted = model.records
        self.ids = fitted["unique_id"].astype(str).to_numpy(dtype=object)
        self.values = {c: texts(fitted[c]) for c in self.columns}
        self.fitted_tf = {c: np.array([np.nan if v is None else counts.get(v, np.nan) for v in self.values[c]])
                          for c, counts in self.tf.items()}
        self.indexes = [(rule.columns, {(key if isinstance(key, tuple) else (key,)): rows for key, rows in
                                        fitted.groupby(list(rule.columns), sort=False, dropna=True).indices.items()})
                        for rule in model.rules]
        # One thread and no optimiser: on a few dozen pairs planning costs more than running
        # (4.5 -> 3.5 ms a record on FEBRL3); the results are the same.
        self.db = duckdb.connect(config={"threads": 1})
        self.db.execute("PRAGMA disable_optimizer")
        self.lock = threading.Lock()
        nothing = np.zeros(0, dtype=np.int64)
        self.db.register(_PAIRS, self._pairs(nothing, nothing, self.values))  # typed and empty
        self.db.execute(f"CREATE VIEW {_GAMMAS} AS SELECT "
                        + ", ".join(c._case_statement for c in settings.comparisons) + f" FROM {_PAIRS}")
        self.db.unregister(_PAIRS)

    def candidates(self, queries: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """The pairs the blocking rules compare: each query row with the fitted rows that
        agree with it on all the columns of some rule, as (query rows, fitted rows)."""
        rows, found = [], []
        for i in range(n):
            hits = []
            for columns, index in self.indexes:
                key = tuple(queries[c][i] for c in columns)
                if any(v is None for v in key):
                    continue
                hit = index.get(key)
                if hit is not None:
                    hits.append(hit)
            if hits:
                together = np.unique(np.concatenate(hits))
                rows.append(np.full(len(together), i, dtype=np.int64))
                found.append(together)
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(rows), np.concatenate(found)

    def weights(self, queries: dict[str, np.ndarray], rows: np.ndarray, fitted: np.ndarray
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The match weights of the pairs (query ``rows``, ``fitted`` rows), and their levels."""
        gammas = self.gammas(queries, rows, fitted)
        total = np.full(len(rows), self.prior)
        for comparison in self.comparisons:
            gamma = gammas[comparison.name]
            total = total + comparison.weights[gamma + 1]
            if not comparison.adjusted:
                continue
            adjustment = np.zeros(len(rows))
            for level in comparison.adjusted:
                tf_l = np.array([np.nan if v is None else self.tf[level.column].get(v, np.nan)
                                 for v in queries[level.column][rows]], dtype=float)
                tf_r = self.fitted_tf[level.column][fitted]
                known = ~(np.isnan(tf_l) & np.isnan(tf_r))
                a, b = np.where(np.isnan(tf_l), tf_r, tf_l), np.where(np.isnan(tf_r), tf_l, tf_r)
                with np.errstate(invalid="ignore", divide="ignore"):
                    adjusted = level.weight * (level.log2_u - np.log2(np.maximum(np.maximum(a, b), level.minimum)))
                adjustment = np.where((gamma == level.gamma) & known, adjusted, adjustment)
            total = total + adjustment
        return total, gammas

    def gammas(self, queries: dict[str, np.ndarray], rows: np.ndarray, fitted: np.ndarray) -> dict[str, np.ndarray]:
        """Each comparison's level (Splink's comparison vector value) for the pairs."""
        pairs = self._pairs(np.asarray(rows), fitted, queries)
        with self.lock:
            self.db.register(_PAIRS, pairs)
            try:
                out = self.db.execute(f"SELECT * FROM {_GAMMAS}").fetchnumpy()
            finally:
                self.db.unregister(_PAIRS)
        return {c.name: np.asarray(out[f"gamma_{c.name}"], dtype=np.int64) for c in self.comparisons}

    def _pairs(self, rows: np.ndarray, fitted: np.ndarray, queries: dict[str, np.ndarray]) -> Any:
        """The pairs as an Arrow table of ``<field>_l`` (the query's) and ``<field>_r`` text."""
        import pyarrow as pa

        data = {}
        for column in self.columns:
            data[f"{column}_l"] = pa.array(queries[column][rows] if len(rows) else [], type=pa.string())
            data[f"{column}_r"] = pa.array(self.values[column][fitted] if len(rows) else [], type=pa.string())
        return pa.table(data)


def _comparison(comparison: Any) -> _Comparison:
    """A Splink comparison's weights, as its prediction SQL has them."""
    levels = comparison.comparison_levels
    values = [level.comparison_vector_value for level in levels]
    weights = np.zeros(max(values) + 2)
    adjusted = []
    for level in levels:
        weight = level._match_weight
        if weight is None:
            raise ValueError(f"Comparison {comparison.output_column_name!r} has a level without m or u probability.")
        weights[level.comparison_vector_value + 1] = weight
        if (level.comparison_vector_value != -1 and level._has_tf_adjustments and level._tf_adjustment_weight != 0
                and not level._is_else_level):
            u_exact = level._u_probability_corresponding_to_exact_match(levels)
            adjusted.append(_TermFrequency(
                level.comparison_vector_value, level._tf_adjustment_input_column.unquote().name,
                float(level._tf_adjustment_weight), math.log2(u_exact), float(level._tf_minimum_u_value)))
    return _Comparison(comparison.output_column_name, weights, tuple(adjusted))


def texts(values: pd.Series) -> np.ndarray:
    """A column's values as Python strings, missing ones as None (not pandas' NaN or NA)."""
    out = values.to_numpy(dtype=object, copy=True)
    out[pd.isna(out)] = None
    return out


def scorer(model: MatchModel) -> _Scorer:
    """The model's scorer, built on first use and kept (not saved with the model)."""
    made = model.__dict__.get("_cached_scorer")
    if made is None:
        made = model.__dict__["_cached_scorer"] = _Scorer(model)
    return made


def best_candidates(model: MatchModel, queries: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` most probable fitted records for each query record (cleaned, ``unique_id``
    first, ids unique), among those the blocking rules compare it with and of match weight
    at least ``KEEP_WEIGHT``, as Splink's ``predict_between`` would score them."""
    found = scorer(model)
    values = {c: texts(queries[c]) for c in found.columns}
    rows, fitted = found.candidates(values, len(queries))
    parts = [found.weights(values, rows[s:s + PAIRS_PER_QUERY], fitted[s:s + PAIRS_PER_QUERY])
             for s in range(0, len(rows), PAIRS_PER_QUERY)]
    weights = np.concatenate([w for w, _ in parts]) if parts else np.zeros(0)
    kept = weights >= KEEP_WEIGHT
    probabilities = None
    if model.classifier is not None:  # chosen on labelled pairs (supervised.py): it gives the probability
        levels = pd.DataFrame({f"gamma_{c}": np.concatenate([g[c] for _, g in parts])[kept] for c in found.columns})
        probabilities = model.classifier.predict(levels.assign(match_weight=weights[kept]))
    query_ids = queries["unique_id"].astype(str).to_numpy(dtype=object)
    return top_k(query_ids[rows[kept]], found.ids[fitted[kept]], weights[kept], k, probabilities=probabilities)


def best_candidates_splink(model: MatchModel, queries: pd.DataFrame, k: int) -> pd.DataFrame:
    """:func:`best_candidates` through Splink's ``predict_between``: the reference the fast
    path is checked against (~25 times slower for one record)."""
    found = scorer(model)
    table = found.db_api.register(queries, table_name=f"__labcoat_query_{next(_QUERIES)}")
    tables = found.tables if isinstance(found.tables, list) else [found.tables]
    predicted = found.linker.inference.predict_between(table, tables)
    try:
        scored = fetch(predicted, found.columns, link=False, min_weight=KEEP_WEIGHT)
    finally:
        predicted.drop_table_from_database_and_remove_from_cache()
        table.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    return top_k(scored["unique_id_l"].astype(str).to_numpy(dtype=object),
                 scored["unique_id_r"].astype(str).to_numpy(dtype=object),
                 scored["match_weight"].to_numpy(dtype=float), k)


def top_k(queries: np.ndarray, ids: np.ndarray, weights: np.ndarray, k: int, *,
          probabilities: np.ndarray | None = None) -> pd.DataFrame:
    """Each query's ``k`` most probable candidates, ranked from 1: queries in the order of
    their ids, candidates by ``probabilities`` (default: from the weights) then weight (equal
    ones in the order given)."""
    queries, ids = np.asarray(queries).astype(str), np.asarray(ids).astype(str)
    if probabilities is None:
        probabilities = 1.0 / (1.0 + np.exp2(-weights))
    codes = np.unique(queries, return_inverse=True)[1].reshape(-1)
    order = np.lexsort((-weights, -probabilities, codes))
    sorted_codes = codes[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_codes, sorted_codes, side="left") + 1
    keep = order[rank <= k]
    return pd.DataFrame({"query": queries[keep], "rank": rank[rank <= k].astype(np.int64), "id": ids[keep],
                         "match_probability": probabilities[keep],
                         "match_weight": weights[keep].astype(float)})


def score_two(model: MatchModel, a: dict[str, Any], b: dict[str, Any]) -> dict[str, int]:
    """Each field's comparison level for records ``a`` and ``b`` (cleaned, with ``unique_id``)."""
    found = scorer(model)
    fields = ["unique_id", *found.columns]
    scored = found.linker.inference.score_pair({c: a.get(c) for c in fields}, {c: b.get(c) for c in fields})
    row = scored.as_pandas_dataframe().iloc[0]
    return {c: int(row[f"gamma_{c}"]) for c in found.columns}
