"""Scoring pairs the fit did not: new records against the fitted ones (``MatchModel.find``,
the service's ``POST /match``) and two given records (``MatchModel.explain``), through a
Splink linker rebuilt from the model's trained settings and kept with the model in memory.

Examples
--------
>>> top_k(pd.DataFrame({"query": ["q", "q", "q"], "id": ["a", "b", "c"], "match_weight": [1.0, 5.0, 3.0],
...                     "match_probability": [0.6, 0.9, 0.8]}), 2)["id"].tolist()
['b', 'c']
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.tasks.match.comparisons import TERM_FREQUENCY
from labcoat.tasks.match.data import Records
from labcoat.tasks.match.estimate import KEEP_WEIGHT, fetch, register, splink_modules

if TYPE_CHECKING:
    from labcoat.tasks.match.model import MatchModel

_QUERIES = itertools.count()


class _Scorer:
    """A DuckDB database holding the fitted records (and their term frequencies) and a linker
    with the model's trained settings."""

    def __init__(self, model: MatchModel) -> None:
        splink = splink_modules()
        from splink import DuckDBAPI

        self.db_api = DuckDBAPI()
        records = Records(model.records, model.roles, str(model.info.get("id_column")), model.link)
        self.tables = register(records, self.db_api)
        self.linker = splink.Linker(self.tables, dict(model.settings), log_level=None)
        for role in model.roles:
            if role.role in TERM_FREQUENCY:
                self.linker.table_management.compute_tf_table(role.column)
        self.columns = [r.column for r in model.roles]
        self.link = model.link


def scorer(model: MatchModel) -> _Scorer:
    """The model's scorer, built on first use and kept (not saved with the model)."""
    made = model.__dict__.get("_cached_scorer")
    if made is None:
        made = model.__dict__["_cached_scorer"] = _Scorer(model)
    return made


def best_candidates(model: MatchModel, queries: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` most probable fitted records for each query record (cleaned, ``unique_id``
    first), among those the blocking rules compare it with."""
    found = scorer(model)
    table = found.db_api.register(queries, table_name=f"__labcoat_query_{next(_QUERIES)}")
    fitted = found.tables if isinstance(found.tables, list) else [found.tables]
    predicted = found.linker.inference.predict_between(table, fitted)
    try:
        scored = fetch(predicted, found.columns, link=False, min_weight=KEEP_WEIGHT)
    finally:
        predicted.drop_table_from_database_and_remove_from_cache()
        table.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    left_is_query = scored["unique_id_l"].astype(str).isin(set(queries["unique_id"].astype(str)))
    out = pd.DataFrame({
        "query": np.where(left_is_query, scored["unique_id_l"], scored["unique_id_r"]).astype(str),
        "id": np.where(left_is_query, scored["unique_id_r"], scored["unique_id_l"]).astype(str),
        "match_weight": scored["match_weight"].to_numpy(dtype=float)})
    out["match_probability"] = 1.0 / (1.0 + np.exp2(-out["match_weight"].to_numpy()))
    if model.classifier is not None:  # a classifier chosen on labels (supervised.py) gives the probability
        out["match_probability"] = model.classifier.predict(scored)
    return top_k(out, k)


def top_k(candidates: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each query's ``k`` heaviest candidates, ranked from 1."""
    ordered = candidates.sort_values(["query", "match_weight"], ascending=[True, False], kind="stable")
    ordered = ordered.groupby("query", sort=False).head(k).copy()
    ordered.insert(1, "rank", ordered.groupby("query", sort=False).cumcount() + 1)
    return ordered[["query", "rank", "id", "match_probability", "match_weight"]].reset_index(drop=True)


def score_two(model: MatchModel, a: dict[str, Any], b: dict[str, Any]) -> dict[str, int]:
    """Each field's comparison level for records ``a`` and ``b`` (cleaned, with ``unique_id``)."""
    found = scorer(model)
    fields = ["unique_id", *found.columns]
    scored = found.linker.inference.score_pair({c: a.get(c) for c in fields}, {c: b.get(c) for c in fields})
    row = scored.as_pandas_dataframe().iloc[0]
    return {c: int(row[f"gamma_{c}"]) for c in found.columns}
