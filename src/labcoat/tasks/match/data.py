"""The records to match, checked and put in one form: ids unique and present, the two tables'
columns the same (or mapped), values lower-cased and trimmed, dates as ISO text, phone numbers
as digits; the user's own frames are never changed (a cleaned copy is matched).

Examples
--------
>>> import pandas as pd
>>> people = pd.DataFrame({"id": range(20), "name": [" Ann  LEE", "bob"] * 10, "dob": ["02/01/1990", "25/03/1985"] * 10})
>>> records = prepare_records(people, id_column="id")
>>> records.frame[["unique_id", "name", "dob"]].head(2).to_dict("list")
{'unique_id': ['0', '1'], 'name': ['ann lee', 'bob'], 'dob': ['1990-01-02', '1985-03-25']}
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labcoat.errors import DataError
from labcoat.tasks.match.roles import ColumnRole, infer_roles

#: Columns empty on more than this share of the records are left out, with a notice.
MOSTLY_EMPTY = 0.95
#: Fewer records than this leave too little to estimate anything.
MIN_RECORDS = 20
#: Up to this many values are cleaned by :func:`clean_few` (plain Python) rather than pandas.
FEW = 64


@dataclass
class Records:
    """The cleaned records (``unique_id``, ``source_dataset`` when linking, one column per
    compared field), the roles of their columns and the notices raised on the way."""

    frame: pd.DataFrame
    roles: list[ColumnRole]
    id_column: str
    link: bool
    notes: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [r.column for r in self.roles]


def prepare_records(records: pd.DataFrame, other: pd.DataFrame | None = None, *, id_column: str | None = None,
                    roles: Mapping[str, str] | None = None, exclude: tuple[str, ...] = (),
                    columns: Mapping[str, str] | None = None) -> Records:
    """Check and clean ``records`` (and ``other`` to link with them); ``id_column`` names the
    record ids (default: row numbers, ``other``'s after ``records``'); ``roles`` overrides
    inferred roles; ``columns`` maps ``other``'s column names to ``records``'."""
    notes: list[str] = []
    first = _with_ids(_plain_names(records, "records", notes), id_column, "records", start=0)
    frames = [first]
    if other is not None:
        second = _plain_names(other, "other", notes).rename(columns=dict(columns or {}))
        _check_same_columns(first, second, id_column)
        frames.append(_with_ids(second, id_column, "other", start=len(records)))
    together = pd.concat(frames, ignore_index=True) if other is not None else first
    if other is not None:
        together["source_dataset"] = np.repeat(["records", "other"], [len(frames[0]), len(frames[1])])
        clash = together["unique_id"].duplicated()
        if clash.any():
            raise DataError(f"Id {together['unique_id'][clash].iloc[0]!r} is in both tables; ids must tell the records "
                            "of both apart. Prefix one table's ids, or leave id_column out to number the rows.")
    if len(together) < MIN_RECORDS:
        raise DataError(f"{len(together)} records are too few to estimate a match model (at least {MIN_RECORDS}).")
    kept = [c for c in together.columns if c not in ("unique_id", "source_dataset", id_column, *exclude)]
    emptiness = {c: _empty(together[c]).mean() for c in kept}
    for column, share in emptiness.items():
        if share > MOSTLY_EMPTY:
            notes.append(f"Column '{column}' is empty on {share:.0%} of the records; it is left out of the matching.")
    kept = [c for c in kept if emptiness[c] <= MOSTLY_EMPTY]
    if not kept:
        raise DataError("No column is left to compare records on (every one is the id, excluded or almost empty). "
                        "Give records with names, dates, addresses or other fields to match on.")
    inferred = infer_roles(together[kept], given=dict(roles or {}))
    cleaned = together[["unique_id"] + (["source_dataset"] if other is not None else [])].copy()
    for role in inferred:
        cleaned[role.column] = clean_values(together[role.column], role.role)
    return Records(cleaned, inferred, id_column or "row", other is not None, notes)


def _plain_names(frame: pd.DataFrame, what: str, notes: list[str]) -> pd.DataFrame:
    """``frame`` with the spaces around its column names dropped (a CSV written with ", "
    between fields), said in a notice; a frame that is not a table is left for the checks."""
    if not isinstance(frame, pd.DataFrame):
        return frame
    names = {c: str(c).strip() for c in frame.columns}
    changed = [c for c, name in names.items() if name != c]
    if not changed:
        return frame
    if len(set(names.values())) < len(names):
        raise DataError(f"The {what} table has columns that differ only by spaces around their names "
                        f"({', '.join(repr(c) for c in changed[:3])}); rename them.")
    notes.append(f"{len(changed)} column names of the {what} had spaces around them ({', '.join(repr(c) for c in changed[:3])}"
                 f"{'...' if len(changed) > 3 else ''}); they are read without them.")
    return frame.rename(columns=names)


def _with_ids(frame: pd.DataFrame, id_column: str | None, what: str, *, start: int) -> pd.DataFrame:
    """``frame`` with its ids as text in ``unique_id``, checked to be present and unique."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"The {what} must be a table (a pandas DataFrame or a file); got {type(frame).__name__}.")
    if len(frame) == 0:
        raise DataError(f"The {what} table has no rows.")
    out = frame.copy()
    if id_column is None:
        out["unique_id"] = (np.arange(len(frame)) + start).astype(str)
        return out
    if id_column not in frame.columns:
        raise DataError(f"Id column '{id_column}' is not in the {what} table (columns: {', '.join(map(str, frame.columns[:12]))}).")
    ids = frame[id_column]
    if ids.isna().any():
        raise DataError(f"Id column '{id_column}' is missing on {int(ids.isna().sum())} rows of the {what}; every record "
                        "needs an id. Fill them, or leave --id out to number the rows.")
    text = ids.astype(str).str.strip()
    repeated = text[text.duplicated()].unique()
    if len(repeated):
        others = f" and {len(repeated) - 1:,} more ids repeat" if len(repeated) > 1 else " repeats"
        raise DataError(f"Id column '{id_column}' is not unique: {repeated[0]!r}{others} in the {what}. Give a unique "
                        "id column, or leave --id out to number the rows.")
    out["unique_id"] = text.to_numpy()
    return out


def _check_same_columns(first: pd.DataFrame, second: pd.DataFrame, id_column: str | None) -> None:
    """The two tables to link must have the same columns (after the mapping)."""
    a, b = set(first.columns) - {"unique_id"}, set(second.columns) - {"unique_id"}
    if a != b:
        only_a, only_b = sorted(map(str, a - b)), sorted(map(str, b - a))
        raise DataError("The two tables have different columns: only in the records "
                        f"{only_a or 'none'}, only in the other {only_b or 'none'}. Rename them to match, or map "
                        "them (columns={'their_name': 'our_name'}; --map their_name=our_name).")


def _as_text(values: pd.Series) -> pd.Series:
    """``values`` as text, whole numbers read as floats (a column of numbers with gaps) written
    without their ``.0``.

    >>> _as_text(pd.Series([14.0, None, 7.0])).tolist()
    ['14', <NA>, '7']
    """
    if pd.api.types.is_float_dtype(values):
        known = values.dropna()
        if len(known) and bool((known == np.floor(known)).all()) and float(known.abs().max()) < 2**53:
            return values.astype("Int64").astype("string")
    return values.astype("string")


def _empty(values: pd.Series) -> pd.Series:
    return values.isna() | (values.astype(str).str.strip() == "")


def clean_values(values: pd.Series, role: str) -> pd.Series:
    """``values`` in the form their ``role`` compares: text lower-cased with single spaces,
    dates ``YYYY-MM-DD`` (unparsable ones kept as written), phones as digits; empty → missing.

    >>> clean_values(pd.Series(["+44 (20) 7946-0958", ""]), "phone").tolist()
    ['442079460958', None]
    """
    text = _as_text(values).str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
    if role in ("given_name", "surname", "full_name", "city"):
        text = text.str.replace(r"[^\w\s'\-]", "", regex=True).str.strip()
    elif role == "phone":
        text = text.str.replace(r"\D", "", regex=True)
    elif role in ("national_id", "postcode"):
        text = text.str.replace(r"[\s\-.]", "", regex=True)
    elif role == "date":
        text = _iso_dates(text)
    text = text.mask(text.isna() | (text == ""))
    return text.astype(object).where(text.notna(), None)


def _iso_dates(text: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` where they parse (compact ``YYYYMMDD`` first, then ISO, then
    day-first or month-first as the values allow); the others as written."""
    compact = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    parsed = compact
    if compact.notna().mean() < 0.5:
        iso = pd.to_datetime(text, format="ISO8601", errors="coerce")
        parsed = iso if iso.notna().mean() >= 0.5 else _slashed(text)
    iso_text = parsed.dt.strftime("%Y-%m-%d").astype("string")
    return iso_text.where(parsed.notna(), text)


def _slashed(text: pd.Series) -> pd.Series:
    """Dates like 02/01/1990: day first unless a first part above 12 says month first."""
    parts = text.str.extract(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})$")
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[1], errors="coerce")
    month_first = bool((second > 12).any() and not (first > 12).any())
    return pd.to_datetime(text, errors="coerce", dayfirst=not month_first, format="mixed")


_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_COMPACT_DATE = re.compile(r"[0-9]{8}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def clean_few(values: pd.Series, role: str) -> list[str | None]:
    """:func:`clean_values` of a few values in plain Python: a new record to match costs ~0.1
    ms a field instead of ~2 ms through pandas. The answer is the same: text of printable
    ASCII only (on which Python's and Arrow's string functions agree) and dates all compact
    or all ISO and parsable; anything else goes through :func:`clean_values`.

    >>> clean_few(pd.Series(["  Ann  LEE ", None, ""]), "given_name"), clean_few(pd.Series(["19900102", None]), "date")
    (['ann lee', None, None], ['1990-01-02', None])
    """
    texts: list[str | None] = []
    for value in values.tolist():
        if value is None or (isinstance(value, float) and value != value):
            texts.append(None)
        elif isinstance(value, str) and _PRINTABLE_ASCII.fullmatch(value):
            texts.append(_plain_text(value, role))
        else:
            return clean_values(values, role).tolist()
    if role == "date":
        dates = _plain_dates(texts)
        if dates is None:
            return clean_values(values, role).tolist()
        texts = dates
    return [t if t else None for t in texts]


def _plain_text(value: str, role: str) -> str:
    """One printable-ASCII value cleaned as :func:`clean_values` does (its only white space is
    the space)."""
    text = re.sub(" +", " ", value.strip(" ").lower())
    if role in ("given_name", "surname", "full_name", "city"):
        return re.sub(r"[^\w\s'\-]", "", text).strip(" ")
    if role == "phone":
        return re.sub(r"\D", "", text)
    if role in ("national_id", "postcode"):
        return re.sub(r"[\s\-.]", "", text)
    return text


def _plain_dates(texts: list[str | None]) -> list[str | None] | None:
    """Dates as :func:`_iso_dates` writes them when every one given is a valid compact
    (``YYYYMMDD``) or every one a valid ISO date, and they are at least half the values (as
    its choice of format needs); None otherwise."""
    given = [t for t in texts if t]
    if not given:
        return texts
    if 2 * len(given) < len(texts):
        return None
    if all(_COMPACT_DATE.fullmatch(t) and _valid_date(t[:4], t[4:6], t[6:]) for t in given):
        return [f"{t[:4]}-{t[4:6]}-{t[6:]}" if t else t for t in texts]
    if all(_ISO_DATE.fullmatch(t) and _valid_date(t[:4], t[5:7], t[8:]) for t in given):
        return texts
    return None


def _valid_date(year: str, month: str, day: str) -> bool:
    """A calendar date pandas' timestamps hold (years 1700 to 2200, well inside their range)."""
    try:
        datetime.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return 1700 <= int(year) <= 2200
