"""What each column of a table of records is, for matching: a given name, a surname, a date,
a postcode... told from the column's name first and its values second, each with the reason.

A role decides how two values are compared (:mod:`labcoat.tasks.match.comparisons`) and
whether the column may block (:mod:`labcoat.tasks.match.blocking`).

Examples
--------
>>> import pandas as pd
>>> people = pd.DataFrame({"first_name": ["ann", "bob", "cy"], "email": ["a@x.org", "b@y.com", None],
...                        "dob": ["1990-01-02", "1985-03-04", "1970-12-30"]})
>>> {c.column: c.role for c in infer_roles(people)}
{'first_name': 'given_name', 'email': 'email', 'dob': 'date'}
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

ROLES = ("given_name", "surname", "full_name", "date", "postcode", "street", "city", "email", "phone",
         "national_id", "number", "category", "text")

#: Name patterns, tried in this order on the lower-cased column name with separators removed.
_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("email", r"e?mail"),
    ("phone", r"phone|mobile|cell|tel(ephone)?|fax"),
    ("date", r"dob|birth|date|born|day"),
    ("national_id", r"ssn|socsec|social|national|nino|nhs|passport|taxid|licen[cs]e|medicare"),
    ("postcode", r"post(al)?code|zip|plz"),
    ("number", r"(street|house|building|flat|unit)(number|num|no)$"),
    ("given_name", r"given|first|fore|fname|christian|middle"),
    ("surname", r"surname|last|family|lname|maiden"),
    ("full_name", r"^(full)?name$|fullname|person|customer|company|organi[sz]ation|business"),
    ("street", r"street|address|addr|road|line1|line2"),
    ("city", r"city|town|suburb|locality|village|municipality"),
    ("number", r"number|num$|no$|house|amount|price|height|weight"),
    ("category", r"state|county|region|country|province|gender|sex|title|type|status"),
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_PHONE = re.compile(r"^\+?[\d\s().\-]{7,20}$")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class ColumnRole:
    """A column's role in matching, and why it was given."""

    column: str
    role: str
    reason: str

    def __str__(self) -> str:
        return f"{self.column}: {self.role} ({self.reason})"


def infer_roles(frame: pd.DataFrame, *, exclude: tuple[str, ...] = (),
                given: dict[str, str] | None = None) -> list[ColumnRole]:
    """The role of every column of ``frame`` but ``exclude`` (ids, sources): ``given`` (column
    → role, from a settings file) first, then the name, then the values.

    >>> [str(r) for r in infer_roles(pd.DataFrame({"zip": ["2000", "3000"], "kind": ["a", "b"]}))]
    ['zip: postcode (its name)', 'kind: category (few distinct values (2))']
    """
    given = given or {}
    unknown = sorted(set(given.values()) - set(ROLES))
    if unknown:
        from labcoat.errors import ConfigError

        raise ConfigError(f"Unknown matching role(s) {', '.join(map(repr, unknown))}; use one of: {', '.join(ROLES)}.")
    roles = []
    for column in frame.columns:
        if column in exclude:
            continue
        if column in given:
            roles.append(ColumnRole(str(column), given[column], "set in the settings"))
            continue
        values = frame[column].dropna().astype(str).str.strip()
        values = values[values != ""]
        roles.append(_role_of(str(column), values))
    return roles


def _role_of(column: str, values: pd.Series) -> ColumnRole:
    """The role of one column from its name, checked against (or else told by) its values."""
    sample = values.sample(min(len(values), 2000), random_state=0) if len(values) else values
    by_values = _role_from_values(sample)
    key = re.sub(r"[\s_\-.]", "", column.lower())
    for role, pattern in _NAME_PATTERNS:
        if re.search(pattern, key):
            if role in ("date", "email", "phone") and by_values[0] not in (role, None):
                break  # a "date_added" holding words is not a date; the values decide
            if role == "number" and by_values[0] not in ("number", "national_id", "phone", None):
                break
            return ColumnRole(column, role, "its name")
    found, reason = by_values
    return ColumnRole(column, found or "text", reason)


def _role_from_values(values: pd.Series) -> tuple[str | None, str]:
    """A role told by the values alone (None when they are empty), with the reason."""
    if values.empty:
        return None, "no values"
    share = len(values)
    if values.str.match(_EMAIL).sum() >= 0.9 * share:
        return "email", "its values are e-mail addresses"
    if _share_dates(values) >= 0.9:
        return "date", "its values are dates"
    digits = values.str.match(_DIGITS)
    distinct = values.nunique()
    if digits.sum() >= 0.95 * share:
        lengths = values.str.len()
        if lengths.median() >= 7 and distinct >= 0.5 * share:
            return "national_id", "long, mostly distinct numbers"
        if lengths.nunique() <= 2 and 3 <= lengths.median() <= 6 and distinct < 0.5 * share:
            return "postcode", "short codes of one length shared by many records"
        return "number", "its values are numbers"
    if values.str.match(_PHONE).sum() >= 0.9 * share and values.str.count(r"\d").median() >= 7:
        return "phone", "its values are phone numbers"
    if distinct <= max(20, 0.01 * share):
        return "category", f"few distinct values ({distinct})"
    return "text", "free text: compared by similarity"


def _share_dates(values: pd.Series) -> float:
    """The share of ``values`` that read as dates (8-digit YYYYMMDD or a dated format)."""
    sample = values.head(500)
    compact = sample.str.fullmatch(r"(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
    if compact.mean() >= 0.9:
        return float(compact.mean())
    if not sample.str.contains(r"[-/.]").any():
        return 0.0
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed", dayfirst=False)
    return float(parsed.notna().mean())
