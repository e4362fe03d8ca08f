"""The built-in extractors of addresses and numbers with a structure: e-mail addresses, URLs,
phone numbers (Google's libphonenumber rules, through ``phonenumbers``), payment card numbers
(Luhn and issuer prefixes) and IBANs (ISO 13616, through ``python-stdnum``).

Each yields :class:`~labcoat.tasks.extract.builtin_numbers.Found` spans with a normalised value:
the address with its domain in lower case, the URL with a scheme, the phone number in E.164, the
card's digits, the IBAN's compact form.

>>> [f.value for f in find_cards("card 4111 1111 1111 1111, not 4111 1111 1111 1112")]
['4111111111111111']
>>> [f.value for f in find_ibans("IBAN GB82 WEST 1234 5698 7654 32 (not GB82 WEST 1234 5698 7654 33)")]
['GB82WEST12345698765432']
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from labcoat.errors import ConfigError
from labcoat.tasks.extract.builtin_numbers import Found

#: What to install when phonenumbers or python-stdnum is missing.
EXTRA = ("The built-in extractors of phone numbers, card numbers and IBANs need the 'text' extra: "
         "pip install 'labcoat[text]'.")


def require_text_extra() -> None:
    """A :class:`~labcoat.errors.ConfigError` naming the extra when its libraries are missing."""
    try:
        import phonenumbers  # noqa: F401
        import stdnum  # noqa: F401
    except ImportError as error:
        raise ConfigError(EXTRA) from error


def check_region(region: str | None) -> str | None:
    """``region`` in upper case, if phonenumbers knows it (when installed); else a
    :class:`~labcoat.errors.ConfigError` naming it.

    >>> check_region("gb")
    'GB'
    """
    if region is None:
        return None
    try:
        from phonenumbers import SUPPORTED_REGIONS
    except ImportError:  # the phone extractor is not asked for: any two letters will do
        known = None
    else:
        known = SUPPORTED_REGIONS
    code = region.strip().upper()
    if (known is not None and code not in known) or not (len(code) == 2 and code.isalpha()):
        raise ConfigError(f"Unknown region '{region}': give a country's two-letter ISO 3166 code, such as US, GB, "
                          "DE or IN.")
    return code


# ---------------------------------------------------------------------------------- e-mail

_EMAIL = re.compile(r"(?<![\w.%+-])(?P<local>[A-Za-z0-9](?:[A-Za-z0-9._%+-]*[A-Za-z0-9_%+-])?)@"
                    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})(?![\w-]|\.[A-Za-z0-9])")


def find_emails(text: str) -> Iterator[Found]:
    """E-mail addresses; value: the address with its domain in lower case.

    >>> [f.value for f in find_emails("Write to Ann.Lee@Example.COM. Not ann@localhost.")]
    ['Ann.Lee@example.com']
    """
    for match in _EMAIL.finditer(text):
        if ".." not in match["local"]:
            yield Found(match.start(), match.end(), f"{match['local']}@{match['domain'].lower()}")


# ------------------------------------------------------------------------------------- URLs

_URL = re.compile(r"(?<![\w@/.])(?P<scheme>(?i:https?|ftp)://|(?i:www)\.)[^\s<>\"'`{}|\\^]+")
_HOST = re.compile(r"(?:[^@/\s]+@)?(?:(?:[\w-]+\.)+[A-Za-z]{2,}|localhost|\d{1,3}(?:\.\d{1,3}){3})\.?(?::\d+)?")
_TRAILING = ".,;:!?'\"*"


def _trim(url: str) -> str:
    """``url`` without the punctuation a sentence puts after it, nor a closing bracket it did
    not open (``(see http://x.org/a)``)."""
    while url:
        if url[-1] in _TRAILING:
            url = url[:-1]
        elif url[-1] in ")]" and url.count(url[-1]) > url.count("(" if url[-1] == ")" else "["):
            url = url[:-1]
        else:
            return url
    return url


def find_urls(text: str) -> Iterator[Found]:
    """Web addresses starting ``http://``, ``https://``, ``ftp://`` or ``www.`` (a bare domain,
    ``example.com``, is not taken); value: the URL with ``http://`` before a ``www.`` one.

    >>> [f.value for f in find_urls("See (https://example.org/a_(b)?q=1). Or www.python.org, www.nope")]
    ['https://example.org/a_(b)?q=1', 'http://www.python.org']
    """
    for match in _URL.finditer(text):
        url = _trim(match.group())
        scheme = match["scheme"]
        host = re.split(r"[/?#]", url[len(scheme):], maxsplit=1)[0]  # after www., the rest of the domain
        if _HOST.fullmatch(host):
            yield Found(match.start(), match.start() + len(url), url if "://" in scheme else "http://" + url)


# ------------------------------------------------------------------------------ phone numbers

def find_phones(text: str, region: str | None = "US") -> Iterator[Found]:
    """Phone numbers that libphonenumber finds valid and grouped as its country writes them (its
    ``Leniency.STRICT_GROUPING``: the right length for its country and area, ``(415) 555-2671``
    but not ``415 55 52 671``); a number without ``+`` and a country
    code is read as one of ``region`` (``"US"``, ``"GB"``...; None: only international numbers).
    Value: E.164 (``+14155552671``).

    >>> [f.value for f in find_phones("Call (415) 555-2671 or +44 20 7946 0958; not 555-0000.")]
    ['+14155552671', '+442079460958']
    """
    import phonenumbers

    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.STRICT_GROUPING):
        yield Found(match.start, match.end,
                    phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))


# ------------------------------------------------------------------------------------- cards

#: Issuer identification number ranges: (first digits from, to, lengths). Visa, Mastercard,
#: American Express, Discover, JCB, Diners Club, UnionPay, Maestro, Mir, RuPay.
ISSUERS = (
    ("4", "4", range(13, 20)),
    ("51", "55", (16,)), ("2221", "2720", (16,)),
    ("34", "34", (15,)), ("37", "37", (15,)),
    ("6011", "6011", range(16, 20)), ("644", "649", range(16, 20)), ("65", "65", range(16, 20)),
    ("3528", "3589", range(16, 20)),
    ("300", "305", range(14, 20)), ("3095", "3095", range(14, 20)), ("36", "36", range(14, 20)),
    ("38", "39", range(14, 20)),
    ("62", "62", range(16, 20)),
    ("5018", "5018", range(13, 20)), ("5020", "5020", range(13, 20)), ("5038", "5038", range(13, 20)),
    ("5893", "5893", range(13, 20)), ("6304", "6304", range(13, 20)), ("6759", "6759", range(13, 20)),
    ("6761", "6763", range(13, 20)),
    ("2200", "2204", range(16, 20)),
    ("60", "60", (16,)), ("81", "82", (16,)), ("508", "508", (16,)),
)
#: Digit groups separated by single spaces or dashes: the candidates are cut from such runs.
_GROUPS = re.compile(r"(?<![\w.,/+-])\d+(?:[ -]\d+)*(?![\w/]|[.,]\d)")


def _issued(digits: str) -> bool:
    """Whether ``digits`` start with a known issuer's prefix and have a length it issues."""
    return any(low <= digits[: len(low)] <= high and len(digits) in lengths for low, high, lengths in ISSUERS)


def _card_layout(sizes: list[int]) -> bool:
    """Whether digit groups of these sizes are written as cards are: one block of 13-19 digits,
    fours with a shorter last group (4-4-4-4, 4-4-4-4-3), or 4-6-5 / 4-6-4 (Amex, Diners)."""
    total = sum(sizes)
    if not 13 <= total <= 19:
        return False
    return (len(sizes) == 1 or sizes in ([4, 6, 5], [4, 6, 4])
            or (all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4))


def find_cards(text: str) -> Iterator[Found]:
    """Payment card numbers: 13-19 digits written as cards are (:func:`_card_layout`, one kind
    of separator), of a known issuer's prefix and length, passing the Luhn check. A run of
    numbers is searched for its longest such stretch first. Value: the digits.

    >>> [f.value for f in find_cards("3782-822463-10005 and 4012888888881881 and 1234 5678 9012 3456")]
    ['378282246310005', '4012888888881881']
    """
    from stdnum import luhn

    for run in _GROUPS.finditer(text):
        parts = [(m.start(), m.end()) for m in re.finditer(r"\d+", run.group())]
        seps = [run.group()[end] for _, end in parts[:-1]]
        i = 0
        while i < len(parts):
            for j in range(min(len(parts) - 1, i + 4), i - 1, -1):  # at most five groups
                sizes = [end - start for start, end in parts[i:j + 1]]
                digits = "".join(run.group()[start:end] for start, end in parts[i:j + 1])
                if (len(set(seps[i:j])) <= 1 and _card_layout(sizes) and _issued(digits)
                        and luhn.is_valid(digits)):
                    yield Found(run.start() + parts[i][0], run.start() + parts[j][1], digits)
                    i = j
                    break
            i += 1


# ------------------------------------------------------------------------------------- IBANs

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:(?: [A-Za-z0-9]{4})+(?: [A-Za-z0-9]{1,3})?|[A-Za-z0-9]{11,30})"
                   r"(?![A-Za-z0-9])")


def find_ibans(text: str) -> Iterator[Found]:
    """IBANs, compact (``DE89370400440532013000``) or in groups of four: ISO 13616's mod-97
    check digits and the length and format of the country's BBAN (``python-stdnum``'s registry;
    the national check digits some countries add are not checked). A printed IBAN followed by
    a word of four letters or digits is cut back to the longest valid IBAN. Value: the compact
    form in upper case.

    >>> [f.value for f in find_ibans("pay de89 3704 0044 0532 0130 00 now, or DE89370400440532013001")]
    ['DE89370400440532013000']
    """
    from stdnum import iban
    from stdnum.exceptions import ValidationError

    for match in _IBAN.finditer(text):
        groups = match.group().split(" ")
        for k in range(len(groups), 0, -1):
            try:
                value = iban.validate("".join(groups[:k]).upper(), check_country=False)
            except ValidationError:
                continue
            yield Found(match.start(), match.start() + len(" ".join(groups[:k])), value)
            break
