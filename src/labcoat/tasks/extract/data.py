"""Labelled text for entity extraction: CoNLL files and JSON lines, read into :class:`Document` s.

* **CoNLL** (``.conll``, ``.tsv``, ``.txt``, ``.iob``, ``.bio``): one token per line, its tag
  in the last field (tab- or space-separated, so CoNLL-2003's four columns read too), a blank
  line between sentences, ``-DOCSTART-`` lines skipped. Tags are ``O``, ``B-TYPE`` or
  ``I-TYPE``; IOB1 (``I-`` opens an entity, ``B-`` only between two of the same type) and BIO
  both read, as BIO. Each sentence is a document whose text is its tokens joined by spaces.
* **JSON lines** (``.jsonl``, ``.json``, ``.ndjson``), or a frame with these columns: ``text``
  and ``entities``, a list of ``[start, end, label]`` character spans (or objects with those
  keys). The text is cut into tokens by :func:`~labcoat.tasks.extract.tokens.tokenize`, also
  at every entity's edges, so that every entity is whole tokens.

A bad file is a :class:`~labcoat.errors.DataError` naming the file and the line.

Examples
--------
>>> doc = from_spans("Angela Merkel visited Paris.", [(0, 13, "PER"), (22, 27, "LOC")])
>>> doc.tokens, doc.tags
(['Angela', 'Merkel', 'visited', 'Paris', '.'], ['B-PER', 'I-PER', 'O', 'B-LOC', 'O'])
>>> doc.entities()
[(0, 13, 'PER'), (22, 27, 'LOC')]
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from labcoat.errors import DataError, DataSourceError
from labcoat.tasks.extract.tokens import tokenize

CONLL_SUFFIXES = (".conll", ".tsv", ".txt", ".iob", ".bio", ".conllu")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


@dataclass(frozen=True)
class Document:
    """A text, its tokens' character offsets and, when labelled, their BIO tags."""

    text: str
    offsets: list[tuple[int, int]]
    tags: list[str] | None = None

    @property
    def tokens(self) -> list[str]:
        return [self.text[s:e] for s, e in self.offsets]

    def entities(self, tags: Sequence[str] | None = None) -> list[tuple[int, int, str]]:
        """The (start, end, label) character spans of ``tags`` (default: the document's own)."""
        return [(self.offsets[a][0], self.offsets[b - 1][1], label)
                for a, b, label in token_spans((self.tags or []) if tags is None else tags)]


def token_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """The entities of a BIO (or IOB1) tag sequence as (first token, last token + 1, type);
    an ``I-X`` that does not continue an ``X`` opens one, as conlleval reads it.

    >>> token_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    [(0, 2, 'PER'), (3, 4, 'LOC'), (4, 5, 'LOC'), (5, 6, 'ORG')]
    """
    spans: list[tuple[int, int, str]] = []
    start, label = -1, ""
    for i, tag in enumerate(tags):
        if tag == "O" or tag.startswith("B-") or tag[2:] != label:
            if start >= 0:
                spans.append((start, i, label))
            start, label = (-1, "") if tag == "O" else (i, tag[2:])
    if start >= 0:
        spans.append((start, len(tags), label))
    return spans


def to_bio(tags: Sequence[str]) -> list[str]:
    """IOB1 or BIO tags as BIO (an ``I-X`` that opens an entity becomes ``B-X``).

    >>> to_bio(["I-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC']
    """
    out = ["O"] * len(tags)
    for a, b, label in token_spans(tags):
        out[a] = "B-" + label
        out[a + 1:b] = ["I-" + label] * (b - a - 1)
    return out


def from_tokens(tokens: Sequence[str], tags: Sequence[str] | None = None) -> Document:
    """A document of ``tokens`` joined by single spaces (tags made BIO)."""
    offsets, position = [], 0
    for token in tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    return Document(" ".join(tokens), offsets, None if tags is None else to_bio(tags))


def from_spans(text: str, entities: Iterable[Sequence[Any]], *, where: str = "") -> Document:
    """A document of ``text`` tokenized, with the tags of ``entities`` ((start, end, label)
    character spans; checked: inside the text, not overlapping; ``where`` names them in errors)."""
    spans = sorted(_span(entity, text, where) for entity in entities)
    for (_, end, label), (start, _, other) in zip(spans, spans[1:]):
        if start < end:
            raise DataError(f"{where}entities {label!r} and {other!r} overlap (at character {start}); "
                            "give each character one entity at most.")
    cuts = {p for s, e, _ in spans for p in (s, e)}
    offsets: list[tuple[int, int]] = []
    for start, end in tokenize(text):
        inner = sorted(p for p in cuts if start < p < end)
        edges = [start, *inner, end]
        offsets.extend((a, b) for a, b in zip(edges, edges[1:]) if text[a:b].strip())
    tags = ["O"] * len(offsets)
    for start, end, label in spans:
        inside = [i for i, (s, e) in enumerate(offsets) if s >= start and e <= end]
        if not inside:
            raise DataError(f"{where}entity [{start}, {end}, {label!r}] covers no word of the text.")
        tags[inside[0]] = "B-" + label
        for i in inside[1:]:
            tags[i] = "I-" + label
    return Document(text, offsets, tags)


def _span(entity: Any, text: str, where: str) -> tuple[int, int, str]:
    if isinstance(entity, dict):
        entity = [entity.get("start"), entity.get("end"), entity.get("label")]
    if not isinstance(entity, (list, tuple)) or len(entity) != 3:
        raise DataError(f"{where}an entity is [start, end, label]; got {entity!r}.")
    start, end, label = entity
    if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
        raise DataError(f"{where}entity {entity!r}: start and end are whole numbers (character offsets).")
    if not 0 <= start < end <= len(text):
        raise DataError(f"{where}entity {entity!r} is outside the text (its {len(text)} characters: "
                        "0 <= start < end <= length).")
    if not isinstance(label, str) or not label.strip() or label.strip() != label or label == "O":
        raise DataError(f"{where}entity {entity!r}: the label is a non-empty name without spaces at its ends.")
    return start, end, label


def read_conll(path: str | Path) -> list[Document]:
    """The sentences of CoNLL file ``path`` (see the module's docstring)."""
    path = Path(path)
    documents: list[Document] = []
    tokens: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(_lines(path), 1):
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if not any(fields):
            if tokens:
                documents.append(from_tokens(tokens, tags))
            tokens, tags = [], []
            continue
        if fields[0] == "-DOCSTART-":
            continue
        if len(fields) < 2 or not fields[0]:
            raise DataError(f"{path}, line {number}: expected a token and its tag separated by a tab or a "
                            f"space; got {line.rstrip()!r}.")
        tag = fields[-1]
        if not (tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2 and tag[2:].strip() == tag[2:])):
            raise DataError(f"{path}, line {number}: tag {tag!r} is not O, B-TYPE or I-TYPE (BIO or IOB1).")
        tokens.append(fields[0])
        tags.append(tag)
    if tokens:
        documents.append(from_tokens(tokens, tags))
    if not documents:
        raise DataError(f"{path} has no sentences (a token and its tag per line, a blank line between sentences).")
    return documents


def read_jsonl(path: str | Path) -> list[Document]:
    """The documents of JSON-lines file ``path`` (see the module's docstring)."""
    path = Path(path)
    documents = []
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        where = f"{path}, line {number}: "
        try:
            record = json.loads(line)
        except ValueError as error:
            raise DataError(f"{where}not valid JSON ({error}).") from None
        documents.append(_record(record, where))
    if not documents:
        raise DataError(f"{path} has no documents (one JSON object a line, with text and entities).")
    return documents


def _record(record: Any, where: str) -> Document:
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise DataError(f"{where}expected an object with a text string and its entities; got "
                        f"{str(record)[:80]!r}.")
    entities = record.get("entities", [])
    if entities is None:
        entities = []
    if not isinstance(entities, list):
        raise DataError(f"{where}entities is a list of [start, end, label]; got {entities!r}.")
    return from_spans(record["text"], entities, where=where)


def read_documents(data: Any) -> list[Document]:
    """Labelled documents from ``data``: a CoNLL or JSON-lines file (by its suffix), a frame
    with ``text`` and ``entities`` columns, or documents."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise DataSourceError(f"No such file: '{path}'.")
        suffix = path.suffix.lower()
        if suffix in JSONL_SUFFIXES:
            return read_jsonl(path)
        if suffix in CONLL_SUFFIXES:
            return read_conll(path)
        raise DataSourceError(f"'{path}': entity extraction reads CoNLL files ({', '.join(CONLL_SUFFIXES)}) or "
                              f"JSON lines ({', '.join(JSONL_SUFFIXES)}) with text and entities; got {suffix!r}.")
    if isinstance(data, pd.DataFrame):
        missing = [c for c in ("text", "entities") if c not in data.columns]
        if missing:
            raise DataError(f"The frame needs columns text and entities ([start, end, label] spans); "
                            f"missing {', '.join(missing)}.")
        documents = [_record({"text": t, "entities": e}, f"row {i}: ")
                     for i, (t, e) in enumerate(zip(data["text"], data["entities"]))]
    elif isinstance(data, Sequence) and all(isinstance(d, Document) for d in data):
        documents = list(data)
    else:
        raise DataError(f"Give labelled text as a CoNLL or JSON-lines file, or a frame with text and entities; "
                        f"got {type(data).__name__}.")
    if not documents:
        raise DataError("There are no documents to learn from.")
    return documents


def _lines(path: Path) -> Iterator[str]:
    """``path``'s lines, read as UTF-8 (a clear error otherwise)."""
    number = 0
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):  # noqa: B007
                yield line
    except UnicodeDecodeError:
        raise DataError(f"{path}, line {number + 1}: not UTF-8 text; convert the file to UTF-8.") from None
    except OSError as error:
        raise DataSourceError(f"Cannot read '{path}': {error.strerror}.") from None
