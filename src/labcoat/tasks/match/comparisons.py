"""How two values of each role are compared: Splink comparison levels chosen by role, from
exact agreement down to "anything else", with a level for missing values first.

Names get Jaro–Winkler bands, term-frequency adjustment (agreeing on "smith" says less than
agreeing on "zbigniew") and a level for a given name and surname swapped; dates a day/month
swap, a one-typo level and date-difference bands; identifiers and numbers edit-distance
bands; categories agree or not.

Examples
--------
>>> from labcoat.tasks.match.roles import ColumnRole
>>> spec = comparison_spec(ColumnRole("surname", "surname", "its name"), swap_with="given_name")
>>> [level.label for level in spec]  # doctest: +NORMALIZE_WHITESPACE
['missing', 'exact', 'swapped with given_name', 'similar (Jaro-Winkler >= 0.92)',
 'similar (Jaro-Winkler >= 0.88)', 'similar (Jaro-Winkler >= 0.7)', 'different']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labcoat.tasks.match.roles import ColumnRole

NAMES = ("given_name", "surname", "full_name")
#: Roles whose exact agreement is weighed by how common the value is.
TERM_FREQUENCY = ("given_name", "surname", "full_name", "city")


@dataclass(frozen=True)
class Level:
    """One comparison level: ``kind`` and its ``value`` (a threshold), in words as ``label``."""

    kind: str  # null, exact, swap, jaro_winkler, edit, date_swap, date_diff, prefix, username, number, else
    label: str
    value: Any = None
    other: str | None = None  # the column a swap compares against


def comparison_spec(role: ColumnRole, *, swap_with: str | None = None, longest: int | None = None) -> list[Level]:
    """The levels comparing ``role``'s column, most specific first. ``longest`` is the length
    of the column's longest value, when known: a level no pair can reach is left out (codes of
    at most four characters that share their first three differ by one typo at most), since
    Splink can learn neither of its probabilities and samples every chunk looking for it.

    Examples
    --------
    >>> [level.label for level in comparison_spec(ColumnRole("pc", "postcode", "its name"), longest=4)]
    ['missing', 'exact', 'one typo', 'different']
    """
    kind = role.role
    levels = [Level("null", "missing"), Level("exact", "exact")]
    if kind in NAMES:
        if swap_with:
            levels.append(Level("swap", f"swapped with {swap_with}", other=swap_with))
        levels += [_jw(0.92), _jw(0.88), _jw(0.7)]
    elif kind in ("street", "city", "text"):
        levels += [_jw(0.9), _jw(0.7)]
    elif kind == "date":
        levels += [Level("date_swap", "day and month swapped"), Level("edit", "one typo", 1),
                   Level("date_diff", "within a month", (1, "month")), Level("date_diff", "within a year", (1, "year")),
                   Level("date_diff", "within 10 years", (10, "year"))]
    elif kind == "postcode":
        levels.append(Level("edit", "one typo", 1))
        if longest is None or longest > 4:
            levels.append(Level("prefix", "same first 3 characters", 3))
    elif kind in ("national_id", "phone"):
        levels += [Level("edit", "one typo", 1), Level("edit", "two typos", 2)]
    elif kind == "number":
        levels += [Level("edit", "one typo", 1), Level("number", "within 5%", 0.05)]
    elif kind == "email":
        levels += [Level("username", "same user name"), _jw(0.88)]
    levels.append(Level("else", "different"))
    return levels


def _jw(threshold: float) -> Level:
    return Level("jaro_winkler", f"similar (Jaro-Winkler >= {threshold:g})", threshold)


def swap_partners(roles: list[ColumnRole]) -> dict[str, str]:
    """Given name ↔ surname, when the records have one column of each."""
    given = [r.column for r in roles if r.role == "given_name"]
    family = [r.column for r in roles if r.role == "surname"]
    if len(given) == 1 and len(family) == 1:
        return {given[0]: family[0], family[0]: given[0]}
    return {}


def splink_comparison(column: str, role: str, levels: list[Level]) -> Any:
    """The Splink comparison for ``levels`` of ``column``."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import ColumnExpression

    made: list[Any] = []
    tf = role in TERM_FREQUENCY
    for level in levels:
        if level.kind == "null":
            made.append(cll.NullLevel(column))
        elif level.kind == "exact":
            made.append(cll.ExactMatchLevel(column, term_frequency_adjustments=tf))
        elif level.kind == "swap":
            made.append(cll.ColumnsReversedLevel(column, str(level.other)))
        elif level.kind == "jaro_winkler":
            made.append(cll.JaroWinklerLevel(column, level.value))
        elif level.kind == "edit":
            made.append(cll.DamerauLevenshteinLevel(column, level.value))
        elif level.kind == "date_swap":
            made.append(cll.CustomLevel(
                f"substr({column}_l, 1, 4) = substr({column}_r, 1, 4) AND substr({column}_l, 6, 2) = "
                f"substr({column}_r, 9, 2) AND substr({column}_l, 9, 2) = substr({column}_r, 6, 2)",
                label_for_charts="day and month swapped"))
        elif level.kind == "date_diff":
            amount, metric = level.value
            # ISO dates; the format is left to each back end's dialect (DuckDB's %Y-%m-%d is Spark's yyyy-MM-dd).
            made.append(cll.AbsoluteDateDifferenceLevel(column, threshold=amount, metric=metric, input_is_string=True))
        elif level.kind == "prefix":
            made.append(cll.ExactMatchLevel(ColumnExpression(column).substr(1, int(level.value))))
        elif level.kind == "username":
            made.append(cll.ExactMatchLevel(ColumnExpression(column).regex_extract("^[^@]+")))
        elif level.kind == "number":
            left, right = (f"try_cast({column}_{side} AS DOUBLE)" for side in "lr")
            made.append(cll.CustomLevel(f"abs({left} - {right}) <= {level.value} * greatest(abs({left}), abs({right}))"))
        else:
            made.append(cll.ElseLevel())
        made[-1] = made[-1].configure(label_for_charts=level.label)
    return cl.CustomComparison(made, output_column_name=column, comparison_description=role)
