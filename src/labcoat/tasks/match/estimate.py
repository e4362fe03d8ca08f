"""Fellegi–Sunter estimated through Splink (DuckDB, or Spark for a cluster:
:mod:`labcoat.tasks.match.spark`): u-probabilities from random pairs,
m-probabilities by expectation-maximisation (one session per training rule, each learning
the fields its rule does not block on), then every blocked pair scored.

The prior (how likely two random records match) is estimated last, by expectation-
maximisation over the scored pairs with m and u held fixed: each step sets it to the expected
number of matches over all possible pairs. Splink's own estimate needs the recall of a
deterministic rule guessed by the user; this one needs no guess (it converges in a few steps
on FEBRL, to within 3% of the true share).

Examples
--------
>>> posterior(np.array([0.0, 10.0])).round(4).tolist()
[0.5, 0.999]
"""
from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError
from labcoat.tasks.match.blocking import BlockingRule, training_rules
from labcoat.tasks.match.comparisons import Level, splink_comparison
from labcoat.tasks.match.data import Records

#: Pairs whose match weight is below this (a match probability under 1 in 1,000) are counted
#: in the prior's estimate but not kept.
KEEP_WEIGHT = -10.0
EXTRA = "Record matching needs Splink: pip install 'labcoat[match]'."
#: DuckDB's memory for Splink's tables; past it they spill to disk. The scored pairs take ~400
#: bytes each (the compared values are kept beside them): 7 GB for the 18M pairs of 1M records.
DUCKDB_MEMORY = "1500MB"


@dataclass
class FellegiSunter:
    """A trained model: Splink's settings with its m and u probabilities (``settings``), the
    scored pairs (``pairs``: ``id_a``, ``id_b``, ``match_weight``, ``match_probability`` and a
    ``gamma_<column>`` level per field) and the estimated prior."""

    settings: dict[str, Any]
    pairs: pd.DataFrame
    prior: float
    compared: int  #: the pairs the blocking rules compared
    notes: list[str] = field(default_factory=list)
    backend: str = "DuckDB"  #: where it was trained, in words


def splink_modules() -> Any:
    """Splink, or a :class:`ConfigError` naming the extra to install."""
    try:
        import splink
    except ImportError as error:
        raise ConfigError(EXTRA) from error
    logging.getLogger("splink").setLevel(logging.ERROR)
    return splink


def settings_for(records: Records, levels: dict[str, list[Level]], rules: list[BlockingRule]) -> Any:
    """Splink's settings for the records' fields compared at ``levels`` and blocked by ``rules``."""
    splink = splink_modules()
    roles = {r.column: r.role for r in records.roles}
    return splink.SettingsCreator(
        link_type="link_only" if records.link else "dedupe_only",
        comparisons=[splink_comparison(column, roles[column], spec) for column, spec in levels.items()],
        blocking_rules_to_generate_predictions=[splink.block_on(*rule.columns) for rule in rules],
        retain_intermediate_calculation_columns=False, retain_matching_columns=True)


def register(records: Records, db_api: Any, put: Any = None) -> Any:
    """The records as Splink input tables of ``db_api`` (two when linking), each registered by
    ``put(frame, name)`` (default: ``db_api.register``)."""
    if put is None:
        def put(part: pd.DataFrame, name: str) -> Any:
            return db_api.register(part, dataset_display_name=name)
    frame = records.frame
    if not records.link:
        return put(frame, "records")
    return [put(part.drop(columns="source_dataset").reset_index(drop=True), name)
            for name, part in ((n, frame[frame["source_dataset"] == n]) for n in ("records", "other"))]


def train(records: Records, levels: dict[str, list[Level]], rules: list[BlockingRule], *, u_pairs: float,
          seed: int = 0, backend: str = "duckdb", spark: Any = None) -> FellegiSunter:
    """Estimate u, m and the prior on ``records`` and score the pairs ``rules`` compare: in a
    DuckDB database of its own whose tables spill to a temporary folder past :data:`DUCKDB_MEMORY`,
    or (``backend="spark"``) on the Spark session or master ``spark``
    (:func:`labcoat.tasks.match.spark.session`). Either way the settings returned are
    DuckDB's, which scoring new records runs on."""
    if backend == "spark":
        return _train_on_spark(records, levels, rules, u_pairs=u_pairs, seed=seed, spark=spark)
    with duckdb_linker(records, settings_for(records, levels, rules)) as linker:
        linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
        return _train(linker, records, levels, rules)


@contextmanager
def duckdb_linker(records: Records, settings: Any) -> Iterator[Any]:
    """A Splink linker on ``records`` in a DuckDB database of its own, closed on exit."""
    import duckdb
    from splink import DuckDBAPI

    with tempfile.TemporaryDirectory(prefix="labcoat-match-") as spill:
        connection = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY, "temp_directory": spill})
        try:
            yield splink_modules().Linker(register(records, DuckDBAPI(connection=connection)), settings,
                                          log_level=None)
        finally:
            connection.close()


def _train_on_spark(records: Records, levels: dict[str, list[Level]], rules: list[BlockingRule], *, u_pairs: float,
                    seed: int, spark: Any) -> FellegiSunter:
    """:func:`train` on Spark: the same steps through Splink's Spark API, the kept pairs
    collected as Arrow, the trained numbers moved into DuckDB's settings.

    The u-probabilities are estimated on the driver, in DuckDB, as the DuckDB back end does:
    random pairs of at most ~4,500 records (``sqrt(2 * u_pairs)``) need no cluster, and Splink
    samples them in ~100 small queries that cost Spark about a second each (FEBRL 3 on
    local[2]: 72 s on Spark, 27 s in DuckDB, the same probabilities for the same seed). The
    blocked pairs, which grow with the data, are compared, trained on and scored on Spark."""
    splink = splink_modules()
    from labcoat.tasks.match import spark as on_spark

    creator = settings_for(records, levels, rules)
    with duckdb_linker(records, creator) as local:
        local.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
        with_u = in_dialect(local.misc.save_model_to_json(), creator, "spark")
    with on_spark.pandas_3_accepted(), on_spark.session(spark) as running, on_spark.cleaned(running):
        api = on_spark.db_api(running)
        tables = register(records, api, lambda part, name: on_spark.register(part, running, api, name))
        trained = _train(splink.Linker(tables, with_u, log_level=None), records, levels, rules,
                         to_pandas=on_spark.to_pandas)
        trained.backend = on_spark.describe(running)
    trained.settings = in_dialect(trained.settings, creator, "duckdb")
    return trained


def in_dialect(trained: dict[str, Any], creator: Any, dialect: str) -> dict[str, Any]:
    """The settings ``creator`` makes for SQL ``dialect``, with the m and u probabilities and
    the prior of ``trained`` (Splink's settings as another back end trained them: the same
    comparisons, levels in the same order, their SQL in that back end's dialect)."""
    out: dict[str, Any] = creator.get_settings(dialect).as_dict()
    out["probability_two_random_records_match"] = trained["probability_two_random_records_match"]
    for ours, theirs in zip(out["comparisons"], trained["comparisons"], strict=True):
        for level, learned in zip(ours["comparison_levels"], theirs["comparison_levels"], strict=True):
            if level.get("label_for_charts") != learned.get("label_for_charts"):
                raise AssertionError(f"Levels differ between dialects: {level.get('label_for_charts')!r} and "
                                     f"{learned.get('label_for_charts')!r}.")
            for key in ("m_probability", "u_probability"):
                if key in learned:
                    level[key] = learned[key]
    return out


def _train(linker: Any, records: Records, levels: dict[str, list[Level]], rules: list[BlockingRule], *,
           to_pandas: Any = None) -> FellegiSunter:
    """m by expectation-maximisation (u is in ``linker``'s settings already), then the prior,
    and the blocked pairs scored."""
    splink = splink_modules()
    from splink.internals.exceptions import SplinkException

    notes = []
    inputs = {column: {column, *(str(lv.other) for lv in spec if lv.kind == "swap")} for column, spec in levels.items()}
    sessions, untrained = training_rules(rules, inputs)
    for rule in sessions:
        before = linker._settings_obj.core_model_settings.copy()  # a session edits them in place (Splink 5.0.0)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                splink.block_on(*rule.columns), estimate_without_term_frequencies=True)
        except (ValueError, SplinkException) as error:  # few pairs: m = 0 or an infinite prior, refused by Splink
            linker._settings_obj.core_model_settings = before
            notes.append(f"Expectation-maximisation on the pairs agreeing on {', '.join(rule.columns)} ({rule.pairs:,} "
                         f"pairs) did not converge to usable values ({str(error).split('.')[0]}); the fields it would "
                         "have learned keep what other sessions learned, or Splink's defaults.")
    if untrained:
        notes.append(f"The m-probabilities of {', '.join(sorted(untrained))} could not be learned (every blocking rule "
                     "blocks on them, or on the field they are compared with when swapped); they keep Splink's "
                     "defaults.")
    settings = linker.misc.save_model_to_json()
    start = float(settings["probability_two_random_records_match"])
    predicted = linker.inference.predict()
    try:
        weights, counts = weight_histogram(predicted, to_pandas=to_pandas)
        prior = estimate_prior(weights, counts, start_prior=start, possible_pairs=_possible_pairs(records))
        shift = _logit2(prior) - _logit2(start)
        pairs = _oriented(fetch(predicted, list(levels), link=records.link, min_weight=KEEP_WEIGHT - shift,
                                to_pandas=to_pandas), records.link)
    finally:
        predicted.drop_table_from_database_and_remove_from_cache()
    pairs["match_weight"] += shift
    pairs["match_probability"] = posterior(pairs["match_weight"].to_numpy())
    settings["probability_two_random_records_match"] = prior
    return FellegiSunter(settings, pairs, prior, int(counts.sum()), notes)


def weight_histogram(predicted: Any, *, to_pandas: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The scored pairs' match weights to 0.01 and how many pairs have each."""
    table = predicted.query_sql("SELECT round(match_weight, 2) AS w, count(*) AS n FROM {this} GROUP BY 1")
    frame = (to_pandas or _as_pandas)(table)
    table.drop_table_from_database_and_remove_from_cache()
    return frame["w"].to_numpy(dtype=float), frame["n"].to_numpy(dtype=float)


def fetch(predicted: Any, columns: list[str], *, link: bool, min_weight: float, to_pandas: Any = None
          ) -> pd.DataFrame:
    """The scored pairs of weight ``min_weight`` or more, with only the ids, the weight and
    each field's level kept (Splink's other columns would cost memory), as a pandas frame made
    by ``to_pandas`` (default: Splink's ``as_pandas_dataframe``)."""
    keep = ["unique_id_l", "unique_id_r", "match_weight", *(f"gamma_{c}" for c in columns),
            *(["source_dataset_l"] if link else [])]
    table = predicted.query_sql("SELECT " + ", ".join(keep) + " FROM {this} WHERE match_weight >= "
                                + f"{min_weight:.6f}")
    out = (to_pandas or _as_pandas)(table)
    table.drop_table_from_database_and_remove_from_cache()
    return out


def _as_pandas(table: Any) -> pd.DataFrame:
    return table.as_pandas_dataframe()


def _oriented(scored: pd.DataFrame, link: bool) -> pd.DataFrame:
    """Splink's scored pairs as ``id_a``, ``id_b`` (the first table's id first when linking)."""
    a, b = scored["unique_id_l"].astype(str), scored["unique_id_r"].astype(str)
    if link:
        flip = (scored["source_dataset_l"] == "other").to_numpy()
        a, b = a.where(~flip, b), b.where(~flip, a)
    gammas = [c for c in scored.columns if c.startswith("gamma_")]
    out = pd.DataFrame({"id_a": a.to_numpy(), "id_b": b.to_numpy(),
                        "match_weight": scored["match_weight"].to_numpy(dtype=float)})
    for column in gammas:
        out[column] = scored[column].to_numpy(dtype=np.int8)
    return out


def _possible_pairs(records: Records) -> int:
    """All pairs a blocking could compare: n(n-1)/2 within a table, n_a n_b between two."""
    if records.link:
        sizes = records.frame["source_dataset"].value_counts()
        return int(sizes.get("records", 0)) * int(sizes.get("other", 0))
    n = len(records.frame)
    return n * (n - 1) // 2


def _logit2(p: float) -> float:
    return math.log2(p / (1 - p))


def posterior(weights: np.ndarray, prior_shift: float = 0.0) -> np.ndarray:
    """Match probabilities of match ``weights`` (log2 Bayes factors with the prior) moved by
    ``prior_shift`` (log2 odds)."""
    return 1.0 / (1.0 + np.exp2(-(weights + prior_shift)))


def estimate_prior(weights: np.ndarray, counts: np.ndarray, *, start_prior: float, possible_pairs: int,
                   steps: int = 500) -> float:
    """The share of all ``possible_pairs`` that match, by expectation-maximisation with the
    m and u probabilities fixed: ``counts`` pairs were scored at each of ``weights`` (match
    weights under ``start_prior``); pairs never compared count as non-matches.

    >>> weights, counts = np.array([20.0, -20.0]), np.array([1000, 99000])
    >>> round(estimate_prior(weights - 5, counts, start_prior=1e-3, possible_pairs=10**6) * 10**6)
    1000
    """
    if possible_pairs <= 0 or len(weights) == 0:
        return start_prior
    base = _logit2(start_prior)
    prior = start_prior
    for _ in range(steps):
        expected = float((posterior(weights, _logit2(prior) - base) * counts).sum())
        updated = float(np.clip(expected / possible_pairs, 1e-12, 0.5))
        if abs(updated - prior) <= 1e-6 * prior:
            return updated
        prior = updated
    return prior
