"""The built-in extractors of amounts: money with its currency, percentages, quantities with units.

Numbers are read in both conventions, ``1,234.56`` and ``1.234,56`` (also ``1 234,56`` with a
no-break space): when a number has both separators, the last one is the decimal mark; when it
has one separator once, followed by exactly three digits after one to three digits (``1,234``,
``1.234``), it separates thousands; otherwise (``1,5``, ``12.50``, ``0.125``) it is the decimal
mark. Each extractor yields :class:`Found` spans with a normalised value: ``"1234.56 USD"``,
``"12.5%"``, ``"20 °C"`` (units to one spelling each, never converted).

>>> [f.value for f in find_money("Paid $1,234.56 and 1.234,56 € and USD 5 million.")]
['1234.56 USD', '1234.56 EUR', '5000000 USD']
>>> [f.value for f in find_quantities("It weighs 1,5 kilograms and runs at -5 °C.")]
['1.5 kg', '-5 °C']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import NamedTuple


class Found(NamedTuple):
    """One value found in a text: characters ``start:end`` and the value normalised."""

    start: int
    end: int
    value: str


#: A number as written: grouped thousands (``,`` ``.`` or a no-break space) with an optional
#: decimal part, or digits with an optional decimal part; not inside a longer number or word.
NUMBER = r"(?<![\w.,])(?:\d{1,3}(?:[,.\u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)(?!\d|[.,]\d)"
_NO_BREAK = ("\u00a0", "\u202f")


def read_number(text: str) -> Decimal | None:
    """``text`` (a match of :data:`NUMBER`) as a Decimal, by the rules of the module's docstring;
    None when its separators are inconsistent (``1.234.5``) or it starts with a zero that is not
    its whole integer part (``007``, ``000``).

    >>> read_number("1.234,56"), read_number("1,234"), read_number("1,5"), read_number("0.125")
    (Decimal('1234.56'), Decimal('1234'), Decimal('1.5'), Decimal('0.125'))
    """
    if len(text) > 1 and text[0] == "0" and text[1].isdigit():  # 007, or 000 from "1 , 000"
        return None
    spaced = any(space in text for space in _NO_BREAK)
    for space in _NO_BREAK:
        text = text.replace(space, "")
    marks = [c for c in text if c in ",."]
    try:
        if not marks:
            return Decimal(text)
        if len(set(marks)) == 2:
            decimal = marks[-1]
            if marks.count(decimal) > 1:
                return None
            return Decimal(text.replace("," if decimal == "." else ".", "").replace(decimal, "."))
        mark = marks[0]
        if len(marks) > 1:  # the pattern made every group three digits long
            return None if spaced else Decimal(text.replace(mark, ""))
        head, tail = text.split(mark)
        if not spaced and len(tail) == 3 and len(head) <= 3 and head != "0":
            return Decimal(head + tail)
        return Decimal(f"{head}.{tail}")
    except InvalidOperation:
        return None


def plain(number: Decimal) -> str:
    """``number`` in positional notation, as written (``3.50``; ``1.5E+6`` as ``1500000``)."""
    exponent = number.as_tuple().exponent
    return format(number, "f") if isinstance(exponent, int) and exponent <= 0 else format(number.normalize(), "f")


def _alternatives(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first (so that ``km/h`` is tried before ``km``)."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# ------------------------------------------------------------------------------------ money

#: Symbols and their currency. ``$`` alone is read as US dollars and ``¥`` as yen (the same
#: symbols serve other currencies: write the code, ``CAD 5``, to say which).
SYMBOLS = {"$": "USD", "US$": "USD", "A$": "AUD", "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "NZ$": "NZD",
           "HK$": "HKD", "S$": "SGD", "R$": "BRL", "MX$": "MXN", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR",
           "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS", "₱": "PHP", "₫": "VND", "฿": "THB"}
#: ISO 4217 codes recognised (upper case, as a whole word, before or after the amount); codes that
#: are also English words (ALL, TOP, CUP...) are left out.
CODES = frozenset("USD EUR GBP JPY CNY CHF CAD AUD NZD HKD SGD SEK NOK DKK ISK PLN CZK HUF RON BGN "
                  "INR BRL MXN ARS CLP COP PEN ZAR KRW RUB UAH TRY ILS AED SAR QAR KWD EGP NGN KES "
                  "THB IDR MYR PHP VND TWD PKR BDT".split()) | {"RMB"}
#: Currency names written after the amount (``10 million dollars``); "pounds" is left out: it is
#: a weight as often as money.
NAMES = {"dollars": "USD", "dollar": "USD", "euros": "EUR", "euro": "EUR", "yen": "JPY",
         "pounds sterling": "GBP", "swiss francs": "CHF", "rupees": "INR", "yuan": "CNY"}
#: Multipliers written after the number (``$5m``, ``€2 bn``, ``$10 million``, ``$175-million``,
#: newswire's ``C$ 100 MLN``).
SCALES = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12, "k": 3, "m": 6, "mn": 6, "mm": 6, "mln": 6, "bln": 9,
          "b": 9, "bn": 9}
_CURRENCY = rf"{_alternatives(SYMBOLS)}|{_alternatives(CODES)}(?![A-Za-z])"
#: The currency before a number: searched at the end of the few characters before it.
_BEFORE = re.compile(rf"(?<![A-Za-z])(?P<before>{_CURRENCY})[ \u00a0]?\Z")
#: What may follow the number: a multiplier, then a currency (matched at the number's end).
_AFTER = re.compile(rf"(?:[ \u00a0-]?(?P<scale>(?i:{_alternatives(SCALES)}))(?![A-Za-z]))?"
                    rf"(?:[ \u00a0]?(?P<after>{_CURRENCY}|(?i:{_alternatives(NAMES)})(?![A-Za-z])))?")
_NUMBER = re.compile(NUMBER)
_SIGNS = "-+−"


def _numbers(text: str) -> Iterator[tuple[re.Match[str], Decimal]]:
    """Each number of ``text`` that reads (:func:`read_number`), with its value. The extractors
    look around these matches rather than scanning the text with a pattern of their own: a
    pattern that may start with a currency or a sign is tried at every character, this one
    only where digits are."""
    for match in _NUMBER.finditer(text):
        number = read_number(match.group())
        if number is not None:
            yield match, number


def _sign(text: str, start: int) -> int:
    """Where a number starting at ``start`` starts with its sign (``-5``), not a dash (``3-5``)."""
    if start and text[start - 1] in _SIGNS and (start == 1 or not (text[start - 2].isalnum() or text[start - 2] in ".,-−")):
        return start - 1
    return start


def _signed(text: str, start: int, number: Decimal) -> str:
    return ("-" if text[start] in "-−" else "") + plain(number)


def _currency(written: str) -> str:
    return SYMBOLS.get(written) or NAMES.get(written.lower()) or {"RMB": "CNY"}.get(written, written)


def find_money(text: str) -> Iterator[Found]:
    """Amounts with a currency (a symbol or code before or after, or a currency name after):
    value ``"<amount> <ISO 4217 code>"``, multipliers applied (``$5m`` is ``5000000 USD``); the
    currency before the amount wins when two are written.

    >>> [f.value for f in find_money("£3.50, 12 EUR, 7 dollars, $2.5bn, and 40 apples")]
    ['3.50 GBP', '12 EUR', '7 USD', '2500000000 USD']
    """
    for match, number in _numbers(text):
        before = _BEFORE.search(text[max(0, match.start() - 8):match.start()])
        after = _AFTER.match(text, match.end())
        assert after is not None  # every part of it is optional
        written = before["before"] if before else after["after"]
        if written is None:
            continue
        if after["scale"]:
            number = number.scaleb(SCALES[after["scale"].lower()])
        end = after.end() if after["after"] or after["scale"] else match.end()
        yield Found(match.start() - (len(before.group()) if before else 0), end, f"{plain(number)} {_currency(written)}")


# ------------------------------------------------------------------------------- percentages

_PERCENT = re.compile(r"[ \u00a0]?(?:[%％]|(?i:percent|per cent|pct)(?![A-Za-z]))")


def find_percentages(text: str) -> Iterator[Found]:
    """Percentages (``12.5%``, ``12,5 %``, ``40 percent``, ``-3 per cent``): value ``"12.5%"``.

    >>> [f.value for f in find_percentages("up 12,5 % or 40 percent, down -3%")]
    ['12.5%', '40%', '-3%']
    """
    for match, number in _numbers(text):
        after = _PERCENT.match(text, match.end())
        if after is not None:
            start = _sign(text, match.start())
            yield Found(start, after.end(), _signed(text, start, number) + "%")


# -------------------------------------------------------------------------------- quantities

#: Units as written and their one spelling in the value; symbols are case-sensitive, words are
#: not. Left out as too often something else: bare ``h``, ``s``, ``t``, ``in``, ``A``, ``pounds``.
UNITS = {
    "mg": "mg", "g": "g", "kg": "kg", "lb": "lb", "lbs": "lb", "oz": "oz",
    "milligrams": "mg", "grams": "g", "gram": "g", "kilograms": "kg", "kilogram": "kg", "kilos": "kg",
    "tonnes": "t", "tonne": "t", "tons": "t", "ounces": "oz",
    "mm": "mm", "cm": "cm", "m": "m", "km": "km", "ft": "ft", "yd": "yd", "mi": "mi",
    "millimetres": "mm", "millimeters": "mm", "centimetres": "cm", "centimeters": "cm", "metres": "m",
    "meters": "m", "metre": "m", "meter": "m", "kilometres": "km", "kilometers": "km", "kilometre": "km",
    "kilometer": "km", "feet": "ft", "foot": "ft", "inches": "in", "inch": "in", "yards": "yd", "miles": "mi",
    "mile": "mi",
    "ml": "mL", "mL": "mL", "cl": "cL", "l": "L", "L": "L", "litres": "L", "liters": "L", "litre": "L",
    "liter": "L", "millilitres": "mL", "milliliters": "mL", "gal": "gal", "gallons": "gal",
    "m²": "m²", "m2": "m²", "km²": "km²", "km2": "km²", "sq ft": "sq ft", "square feet": "sq ft", "ha": "ha",
    "hectares": "ha", "acres": "acre",
    "°C": "°C", "° C": "°C", "ºC": "°C", "°F": "°F", "° F": "°F", "ºF": "°F", "degrees Celsius": "°C",
    "degrees celsius": "°C", "degrees Fahrenheit": "°F", "degrees fahrenheit": "°F",
    "km/h": "km/h", "kph": "km/h", "mph": "mph", "m/s": "m/s", "knots": "kn",
    "W": "W", "kW": "kW", "MW": "MW", "GW": "GW", "kWh": "kWh", "MWh": "MWh", "V": "V", "kV": "kV",
    "mAh": "mAh", "Hz": "Hz", "kHz": "kHz", "MHz": "MHz", "GHz": "GHz", "kcal": "kcal", "calories": "kcal",
    "kB": "kB", "KB": "kB", "MB": "MB", "GB": "GB", "TB": "TB",
    "ms": "ms", "sec": "s", "secs": "s", "seconds": "s", "second": "s", "min": "min", "mins": "min",
    "minutes": "min", "minute": "min", "hr": "h", "hrs": "h", "hours": "h", "hour": "h",
}
_WORD_UNITS = {u for u in UNITS if len(u) > 3 or " " in u}
_UNIT_BY_LOWER = {u.lower(): UNITS[u] for u in _WORD_UNITS}
_UNIT = re.compile(rf"[ \u00a0]?(?P<unit>(?i:{_alternatives(_WORD_UNITS)})|{_alternatives(set(UNITS) - _WORD_UNITS)})"
                       r"(?![\w/°²]|-[A-Za-z])")


def find_quantities(text: str) -> Iterator[Found]:
    """Numbers with a unit of measure (mass, length, volume, area, temperature, speed, power,
    frequency, data size, duration): value ``"<number> <unit>"``, the unit in one spelling
    (``kilograms`` and ``kg`` are both ``kg``), never converted.

    >>> [f.value for f in find_quantities("a 2 hour drive of 120 km at 60 mph, 5 Kilometres")]
    ['2 h', '120 km', '60 mph', '5 km']
    """
    for match, number in _numbers(text):
        after = _UNIT.match(text, match.end())
        if after is not None:
            start = _sign(text, match.start())
            unit = UNITS.get(after["unit"]) or _UNIT_BY_LOWER[after["unit"].lower()]
            yield Found(start, after.end(), f"{_signed(text, start, number)} {unit}")
