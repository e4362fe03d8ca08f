"""Which record pairs get compared at all: blocking rules chosen so that the compared pairs
stay within a budget of pairs, while every true match has as many chances as possible to be
found (a pair is compared when it agrees exactly on all the columns of any one rule).

Rules are counted exactly before they are chosen (per key: ``n (n - 1) / 2`` pairs within one
table, ``n_a n_b`` between two), single columns that identify well first, then pairs of
columns for the fields too common to block on alone. How many true matches the chosen rules
lose is estimated afterwards (:func:`labcoat.tasks.match.quality.capture_recapture_loss`)
or counted with true links.

Examples
--------
>>> import pandas as pd
>>> from labcoat.tasks.match.roles import ColumnRole
>>> frame = pd.DataFrame({"unique_id": list("abcd"), "surname": ["lee", "lee", "kim", "kim"],
...                       "dob": ["1990-01-01", "1990-01-01", "1980-02-02", None]})
>>> pair_count(frame, ("surname",)), pair_count(frame, ("surname", "dob"))
(2, 1)
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labcoat.tasks.match.roles import ColumnRole

#: Roles that may block alone (agreeing on one of them makes a match plausible).
ALONE = ("national_id", "email", "phone", "date", "surname", "given_name", "full_name", "postcode", "street")
#: Roles that block only together with another column.
TOGETHER = ("city", "number", "category", "text")
MAX_RULES = 6


@dataclass(frozen=True)
class BlockingRule:
    """Compare the pairs that agree exactly on all of ``columns``; ``pairs`` is their count."""

    columns: tuple[str, ...]
    pairs: int

    def __str__(self) -> str:
        return " and ".join(self.columns) + f" agree ({self.pairs:,} pairs)"

    def sql(self) -> str:
        return " AND ".join(f"l.{c} = r.{c}" for c in self.columns)


def pair_count(frame: pd.DataFrame, columns: tuple[str, ...]) -> int:
    """The pairs of records (of different sources when ``source_dataset`` is there) that
    agree on all ``columns``, missing values agreeing with nothing."""
    known = frame.dropna(subset=list(columns))
    if "source_dataset" in known.columns:
        by_source = known.groupby([*columns, "source_dataset"], sort=False).size().unstack(fill_value=0)
        if by_source.shape[1] < 2:
            return 0
        return int(np.sum(by_source.iloc[:, 0].to_numpy(dtype=np.int64) * by_source.iloc[:, 1].to_numpy(dtype=np.int64)))
    sizes = known.groupby(list(columns), sort=False).size().to_numpy(dtype=np.int64)
    return int(np.sum(sizes * (sizes - 1) // 2))


def choose_rules(frame: pd.DataFrame, roles: list[ColumnRole], *, max_pairs: int,
                 given: list[tuple[str, ...]] | None = None) -> list[BlockingRule]:
    """Blocking rules whose pairs add up to at most ``max_pairs``: the single columns that may
    block alone, fewest pairs first, then pairs of columns until there are enough rules for
    every field to be missed by some rule and still be found (``given``: the user's rules,
    counted and kept as they are)."""
    if given:
        return [BlockingRule(tuple(columns), pair_count(frame, tuple(columns))) for columns in given]
    alone = [r.column for r in roles if r.role in ALONE]
    together = [r.column for r in roles if r.role in TOGETHER]
    singles = sorted((BlockingRule((c,), pair_count(frame, (c,))) for c in alone), key=lambda r: r.pairs)
    chosen: list[BlockingRule] = []
    total = 0
    for rule in singles:
        if rule.pairs and total + rule.pairs <= max_pairs and len(chosen) < MAX_RULES:
            chosen.append(rule)
            total += rule.pairs
    if len(chosen) >= 4:
        return chosen
    used = {c for rule in chosen for c in rule.columns}
    combos = [BlockingRule(pair, pair_count(frame, pair))
              for pair in itertools.combinations([*alone, *together], 2) if not set(pair) & used or len(chosen) < 2]
    for rule in sorted(combos, key=lambda r: (len(set(r.columns) & used), r.pairs)):
        if rule.pairs and total + rule.pairs <= max_pairs and len(chosen) < MAX_RULES:
            if any(set(rule.columns) >= set(c.columns) for c in chosen):
                continue  # found anyway by a rule on fewer columns
            chosen.append(rule)
            total += rule.pairs
            used |= set(rule.columns)
    return chosen


def training_rules(rules: list[BlockingRule], inputs: dict[str, set[str]]) -> tuple[list[BlockingRule], set[str]]:
    """Rules for the expectation-maximisation sessions, and the comparisons none of them can
    learn. A session learns the comparisons whose input columns (``inputs``: a comparison's
    column and, for a swap level, its partner) its rule does not block on.

    >>> rules = [BlockingRule(("a",), 10), BlockingRule(("b",), 20)]
    >>> training_rules(rules, {"a": {"a"}, "b": {"b"}, "c": {"c"}})
    ([BlockingRule(columns=('a',), pairs=10), BlockingRule(columns=('b',), pairs=20)], set())
    >>> sessions, untrained = training_rules(rules, {"a": {"a", "b"}, "b": {"a", "b"}})
    >>> sessions, sorted(untrained)
    ([], ['a', 'b'])
    """
    sessions: list[BlockingRule] = []
    untrained = set(inputs)
    for rule in sorted(rules, key=lambda r: r.pairs):
        learnt = {c for c in untrained if not inputs[c] & set(rule.columns)}
        if learnt:
            sessions.append(rule)
            untrained -= learnt
        if not untrained:
            break
    return sessions, untrained


def found_by(pairs_l: pd.DataFrame, pairs_r: pd.DataFrame, rules: list[BlockingRule]) -> pd.DataFrame:
    """For each pair (rows of ``pairs_l`` against those of ``pairs_r``), which rules compare it."""
    return pd.DataFrame({str(i): np.logical_and.reduce(
        [(pairs_l[c].to_numpy() == pairs_r[c].to_numpy()) & pairs_l[c].notna().to_numpy() for c in rule.columns])
        for i, rule in enumerate(rules)})
