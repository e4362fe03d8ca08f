"""The built-in date extractor: dates written in English or in numbers, as ISO 8601.

Forms read (case-insensitive; the year is always needed, a date without one is not taken):

- ISO: ``2024-03-14``, ``2024/03/14``, with a time after ``T`` kept (``2024-03-14T09:30:00Z``);
- month names: ``14 March 2024``, ``14th of Mar. 2024``, ``March 14, 2024``; ``March 2024`` gives
  ``2024-03`` (ISO's month precision). Lower-case ``may`` is not read as a month before a bare year
  (``may 2000`` is more often a verb);
- numbers: ``14/03/2024``, ``3-14-24``, ``14.03.2024`` (with dots, only a four-digit year). A
  two-digit year is read as POSIX's ``strptime`` does: 69-99 are 1969-1999, 00-68 are 2000-2068.

Day and month order of numeric dates: a date readable one way only (``14/03/2024``) is read that
way. An ambiguous one (``03/04/2024``) is read in the stated order (``day_first``); without one,
in the order the unambiguous numeric dates of the same call show (the majority of them, so that
a column read at once is read consistently); without any such date, or as many each way, in the
convention of ``region``: month first for the United States, day first elsewhere.

>>> find_dates(["Due 03/04/2024, signed 14/03/2024 and on March 5th, 2024."])[0]
[Found(start=4, end=14, value='2024-04-03'), Found(start=23, end=33, value='2024-03-14'), Found(start=41, end=56, value='2024-03-05')]
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence

from labcoat.tasks.extract.builtin_numbers import Found

_MONTHS = {"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
           "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
           "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12}
_MONTH = "(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>[12]\d{3})"
_START, _END = r"(?<![\w./-])", r"(?![\w]|[./-]\d)"
_TIME = r"(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)"
_ISO = re.compile(rf"{_START}{_YEAR}(?P<sep>[-/])(?P<num_month>[01]?\d)(?P=sep)(?P<day>[0-3]?\d)(?P<time>{_TIME})?{_END}")
_NUMERIC = re.compile(rf"{_START}(?P<a>[0-3]?\d)(?P<sep>[-/.])(?P<b>[0-3]?\d)(?P=sep)(?P<year>\d{{4}}|\d{{2}}){_END}")
#: The dates with a month's name end with a year: they are matched back from each year found
#: (at the end of the few characters before it), rather than tried at every character.
_YEARS = re.compile(rf"(?<!\d)[12]\d{{3}}{_END}")
_NAMED = {
    "day_month": re.compile(rf"(?i:{_START}{_DAY}(?:\s+of)?\s+{_MONTH},?\s+){_YEAR}\Z"),
    "month_day": re.compile(rf"(?i:{_START}{_MONTH}\s+{_DAY},?\s+){_YEAR}\Z"),
    "month_year": re.compile(rf"{_START}(?!may\b)(?i:{_MONTH},?\s+){_YEAR}\Z"),
}
_WINDOW = 40
_US_ORDER = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM", "FM", "PW", "MH", "PH", "BZ"})


def _iso(year: int, month: int, day: int | None) -> str | None:
    """``YYYY-MM-DD`` (``YYYY-MM`` without a day), None for a date that does not exist."""
    try:
        return dt.date(year, month, 1 if day is None else day).isoformat()[: 7 if day is None else 10]
    except ValueError:
        return None


def _year(written: str) -> int:
    year = int(written)
    if len(written) == 2:
        year += 1900 if year >= 69 else 2000
    return year


def _candidates(text: str) -> Iterator[tuple[int, int, re.Match[str], str]]:
    """The places that read as dates, as (start, end, match, kind), ISO dates first, then the
    named months, then numeric dates (a later one overlapping an earlier one is dropped)."""
    for match in _ISO.finditer(text):
        yield match.start(), match.end(), match, "iso"
    for year in _YEARS.finditer(text):
        offset = max(0, year.start() - _WINDOW)
        window = text[offset:year.end()]
        for kind, pattern in _NAMED.items():
            named = pattern.search(window)
            if named is not None:
                yield offset + named.start(), year.end(), named, kind
                break
    for match in _NUMERIC.finditer(text):
        if not (match["sep"] == "." and len(match["year"]) == 2):
            yield match.start(), match.end(), match, "numeric"


def find_dates(texts: Sequence[str], *, day_first: bool | None = None, region: str | None = "US") -> list[list[Found]]:
    """The dates of each text, in order, their values in ISO 8601 (module docstring: forms, and
    how the day/month order of ``03/04/2024`` is decided).

    >>> [[f.value for f in found] for found in find_dates(["03/04/24", "13/04/2024"])]
    [['2024-04-03'], ['2024-04-13']]
    >>> [[f.value for f in found] for found in find_dates(["03/04/24"], region="US")]
    [['2024-03-04']]
    """
    found: list[list[tuple[int, int, re.Match[str], str]]] = []
    votes = {True: 0, False: 0}
    for text in texts:
        taken: list[tuple[int, int, re.Match[str], str]] = []
        for start, end, match, kind in _candidates(text):
            if not any(start < other_end and other_start < end for other_start, other_end, _, _ in taken):
                taken.append((start, end, match, kind))
                if kind == "numeric" and (int(match["a"]) > 12) != (int(match["b"]) > 12):
                    votes[int(match["a"]) > 12] += 1
        found.append(sorted(taken, key=lambda t: t[0]))
    if day_first is None:
        day_first = votes[True] > votes[False] if votes[True] != votes[False] else (region or "").upper() not in _US_ORDER
    return [[Found(start, end, value) for start, end, match, kind in taken
             if (value := _value(match, kind, day_first)) is not None] for taken in found]


def _value(match: re.Match[str], kind: str, day_first: bool) -> str | None:
    if kind == "numeric":
        a, b = int(match["a"]), int(match["b"])
        if a > 12 or (b <= 12 and day_first):
            a, b = b, a
        return _iso(_year(match["year"]), a, b)
    month = int(match["num_month"]) if kind == "iso" else _MONTHS[match["month"].lower()]
    day = int(match["day"]) if kind != "month_year" else None
    value = _iso(int(match["year"]), month, day)
    return value + match["time"] if value and kind == "iso" and match["time"] else value
