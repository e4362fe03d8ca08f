"""The tokenizer of raw text (JSON lines' texts, and what :meth:`ExtractModel.extract` is given).

Rules, in order: the text is cut at whitespace; each piece loses its leading punctuation
(``"([`` ...) and its trailing punctuation (``.,;:!?)]"'`` ...), one character a token (a run
of full stops, ``...``, one token); a trailing clitic (``'s``, ``n't``, ``'re``, ``'ll``...) is a
token of its own, as is a piece that is one; a trailing full stop stays on an
abbreviation (``U.S.``, ``J.``: single letters with dots; or one of :data:`ABBREVIATIONS`,
``Mr.``, ``Inc.``, ``vs.``...). Inner punctuation stays inside its token (``O'Neill``, ``1-0``,
``3.5``, ``1,000``, ``e-mail``). CoNLL's tokens, joined by spaces, mostly come back as they were.

Examples
--------
>>> text = "Mr. O'Neill's firm (Acme Inc.) paid $1,000 in the U.S. yesterday."
>>> [text[s:e] for s, e in tokenize(text)]
['Mr.', "O'Neill", "'s", 'firm', '(', 'Acme', 'Inc.', ')', 'paid', '$', '1,000', 'in', 'the', 'U.S.', 'yesterday', '.']
"""
from __future__ import annotations

import re

_PIECE = re.compile(r"\S+")
_LEADING = "\"'([{<`“‘«$£€¥#@"
_TRAILING = "\"'.,;:!?)]}>`”’»%"
#: Words whose trailing full stop is theirs (titles, company forms, months, states...).
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr messrs rev gen gov sen rep col lt sgt capt cmdr adm maj mt ft "
    "inc corp ltd co bros plc dept univ assn jan feb mar apr jun jul aug sep sept oct nov dec "
    "vs etc no nos vol pp fig approx est ala ariz ark calif colo conn del fla ga ill ind kan ky "
    "la md mass mich minn miss mo mont neb nev okla ore pa tenn tex va vt wash wis wyo".split())
_ABBREVIATION = re.compile(r"(?:[A-Za-z]\.)+")
_CLITIC = re.compile(r"(?i)(?<=\w)(?:n't|['’](?:s|re|ve|ll|m|d))$")
_WHOLE_CLITIC = re.compile(r"(?i)['’](?:s|re|ve|ll|m|d)|n't")


def tokenize(text: str) -> list[tuple[int, int]]:
    """The (start, end) character offsets of the tokens of ``text``."""
    spans: list[tuple[int, int]] = []
    for piece in _PIECE.finditer(text):
        start, end = piece.span()
        if _WHOLE_CLITIC.fullmatch(text, start, end):
            spans.append((start, end))
            continue
        while start < end and text[start] in _LEADING:
            spans.append((start, start + 1))
            start += 1
        tail: list[tuple[int, int]] = []
        while end > start and text[end - 1] in _TRAILING:
            if text[end - 1] == "." and (_ABBREVIATION.fullmatch(text, start, end)
                                         or text[start:end - 1].lower() in ABBREVIATIONS):
                break
            stop = end - 1
            while text[end - 1] == "." and stop > start and text[stop - 1] == ".":
                stop -= 1
            tail.append((stop, end))
            end = stop
        clitic = _CLITIC.search(text, start, end)
        if clitic is not None and clitic.start() > start:
            tail.append((clitic.start(), end))
            end = clitic.start()
        if end > start:
            spans.append((start, end))
        spans.extend(reversed(tail))
    return spans
