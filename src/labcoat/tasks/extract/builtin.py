"""Built-in extractors that need no training: dates, money, percentages, e-mail addresses,
phone numbers, URLs, payment card numbers, IBANs and quantities with units, found in texts and
normalised (``labcoat extract --builtin``).

:func:`extract_builtin` gives one row per value found, in the columns of a trained extractor's
``model.extract(texts)`` (document, start, end, label, text, confidence) plus ``value``, the
value normalised; :func:`extract_columns` adds one column per kind to a table instead. The
rules of each kind are in its module: ``builtin_dates``, ``builtin_numbers`` (money,
percentages, quantities), ``builtin_codes`` (e-mail, URLs, phones, cards, IBANs).

Where two kinds claim overlapping characters, the kind earlier in :data:`KINDS` keeps them (an
IBAN is not also a number, a card number not also a phone number, a URL's ``user@host`` not an
e-mail address); within a kind, the longer span.

>>> extract_builtin(["Paid €1.234,50 on 14/03/2024 to DE89 3704 0044 0532 0130 00."])[["label", "text", "value"]]
   label                         text                   value
0  money                    €1.234,50             1234.50 EUR
1   date                   14/03/2024              2024-03-14
2   iban  DE89 3704 0044 0532 0130 00  DE89370400440532013000
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial

import pandas as pd

from labcoat.errors import ConfigError, DataError, did_you_mean
from labcoat.tasks.extract import builtin_codes, builtin_numbers
from labcoat.tasks.extract.builtin_dates import find_dates
from labcoat.tasks.extract.builtin_numbers import Found
from labcoat.tasks.extract.texts import as_texts

#: The kinds, in the order in which they claim characters when two overlap.
KINDS = ("iban", "card", "url", "email", "phone", "date", "money", "percent", "quantity")
#: The kinds whose libraries are in the ``text`` extra.
_NEED_EXTRA = frozenset({"iban", "card", "phone"})
#: The columns of :func:`extract_builtin`'s frame.
COLUMNS = ("document", "start", "end", "label", "text", "value", "confidence")
#: What :func:`extract_columns` puts between several values of one kind in one cell (no
#: normalised value contains it: URLs have no spaces).
SEPARATOR = "; "

_Finder = Callable[[Sequence[str]], list[list[Found]]]


def _each(find: Callable[[str], Iterator[Found]]) -> _Finder:
    """A finder of one text made a finder of all texts."""
    return lambda texts: [list(find(text)) for text in texts]


def _finders(day_first: bool | None, region: str | None) -> dict[str, _Finder]:
    return {
        "iban": _each(builtin_codes.find_ibans),
        "card": _each(builtin_codes.find_cards),
        "url": _each(builtin_codes.find_urls),
        "email": _each(builtin_codes.find_emails),
        "phone": _each(partial(builtin_codes.find_phones, region=region)),
        "date": partial(find_dates, day_first=day_first, region=region),
        "money": _each(builtin_numbers.find_money),
        "percent": _each(builtin_numbers.find_percentages),
        "quantity": _each(builtin_numbers.find_quantities),
    }


def check_kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...]:
    """``kinds`` (names, or one string of names separated by commas; None: all) in
    :data:`KINDS`' order; a :class:`~labcoat.errors.ConfigError` names an unknown one.

    >>> check_kinds("money, date")
    ('date', 'money')
    """
    if kinds is None:
        return KINDS
    asked = [k.strip().lower() for k in (kinds.split(",") if isinstance(kinds, str) else kinds) if k.strip()]
    unknown = [k for k in asked if k not in KINDS]
    if unknown:
        raise ConfigError(f"Unknown kind of value to extract: '{unknown[0]}'.{did_you_mean(unknown[0], KINDS)} "
                          f"The built-in kinds are {', '.join(KINDS)}.")
    if not asked:
        raise ConfigError(f"No kind of value to extract was given; choose among {', '.join(KINDS)}.")
    return tuple(k for k in KINDS if k in asked)


def extract_builtin(texts: Iterable[object], kinds: str | Iterable[str] | None = None, *,
                    day_first: bool | None = None, region: str | None = "US") -> pd.DataFrame:
    """The values of ``kinds`` (default: all of :data:`KINDS`) found in ``texts``.

    Parameters
    ----------
    texts
        The documents (a list, a pandas Series...); a missing one (None, NaN) is an empty text.
    kinds
        Which kinds to look for: names from :data:`KINDS`, or one string ``"date,money"``.
    day_first
        How to read an ambiguous numeric date such as ``03/04/2024`` (None: from the
        unambiguous dates of ``texts``, else from ``region``; see ``builtin_dates``).
    region
        The country (ISO 3166 code: ``"US"``, ``"GB"``...) of phone numbers written without
        ``+`` and a country code, and whose convention orders ambiguous dates when nothing else
        does; a code phonenumbers does not know is refused. None: only international phone
        numbers, and day-first dates.

    Returns
    -------
    pandas.DataFrame
        One row per value: ``document`` (position in ``texts``), ``start`` and ``end``
        (character offsets), ``label`` (the kind), ``text`` (as written), ``value`` (normalised:
        ISO 8601 date, ``"1234.50 EUR"``, ``"12.5%"``, the card's digits, the compact IBAN,
        E.164 phone number, ``"5 kg"``...) and ``confidence`` (1.0: the rules are certain),
        sorted by document and start.

    Examples
    --------
    >>> extract_builtin(["Mail a@b.org or call +44 20 7946 0958", None], kinds="email,phone")[["document", "label", "value"]]
       document  label          value
    0         0  email        a@b.org
    1         0  phone  +442079460958
    """
    chosen = check_kinds(kinds)
    if _NEED_EXTRA.intersection(chosen):
        builtin_codes.require_text_extra()
    documents = as_texts(texts)
    region = builtin_codes.check_region(region)
    finders = _finders(day_first, region)
    rows: list[tuple[int, int, int, str, str, str, float]] = []
    per_kind = {kind: finders[kind](documents) for kind in chosen}
    for d, text in enumerate(documents):
        found = {kind: per_kind[kind][d] for kind in chosen}
        rows.extend((d, f.start, f.end, kind, text[f.start:f.end], f.value, 1.0) for kind, f in _resolve_overlaps(found))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"document": "int64", "start": "int64", "end": "int64", "confidence": "float64"})


def _resolve_overlaps(found: dict[str, list[Found]]) -> list[tuple[str, Found]]:
    """The spans kept: by kind in :data:`KINDS`' order, then longest first, each kept unless it
    overlaps one kept before; in order of position."""
    kept: list[tuple[str, Found]] = []
    for kind in KINDS:
        for f in sorted(found.get(kind, ()), key=lambda f: (f.start - f.end, f.start)):
            if not any(f.start < other.end and other.start < f.end for _, other in kept):
                kept.append((kind, f))
    return sorted(kept, key=lambda pair: pair[1].start)


def extract_columns(table: pd.DataFrame, column: str, kinds: str | Iterable[str] | None = None, *,
                    day_first: bool | None = None, region: str | None = "US") -> pd.DataFrame:
    """``table`` with one column ``<column>_<kind>`` per kind: the normalised values found in
    that row's text, several joined by ``"; "`` (:data:`SEPARATOR`), empty where none. Without
    ``kinds``, the kinds found in some row; with ``kinds``, each of them even if never found.
    The table's own columns are kept unchanged.

    >>> extract_columns(pd.DataFrame({"id": [1, 2], "body": ["5 kg for $3 or £2", "none"]}), "body")
       id               body    body_money body_quantity
    0   1  5 kg for $3 or £2  3 USD; 2 GBP          5 kg
    1   2               none           NaN           NaN
    """
    if column not in table.columns:
        names = [str(c) for c in table.columns]
        raise DataError(f"Column '{column}' is not in the data.{did_you_mean(column, names)} "
                        f"Its columns: {', '.join(names)}.")
    chosen = check_kinds(kinds)
    found = extract_builtin(table[column], chosen, day_first=day_first, region=region)
    shown = chosen if kinds is not None else tuple(k for k in chosen if k in set(found["label"]))
    out = table.copy()
    for kind in shown:
        name = f"{column}_{kind}"
        if name in table.columns:
            raise DataError(f"The data already has a column '{name}', where the {kind} values of '{column}' "
                            "would go; rename it first.")
        values = found.loc[found["label"] == kind].groupby("document")["value"].agg(SEPARATOR.join)
        out[name] = pd.Series(values.to_numpy(), index=table.index[values.index.to_numpy()]).reindex(table.index)
    return out
