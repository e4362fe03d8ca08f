"""The documents of a text-first table: which text column carries the signal, how it is turned
into features, and the notices its values call for (empty, long, other scripts).

A :class:`Documents` record sits in the :class:`~labcoat.data.schema.Schema` (``schema.documents``)
when the search adds the text families (``labcoat.models.text``); it is saved with the model.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

#: Character n-grams are added to the word n-grams while the documents hold at most this many
#: characters in all: measured on 1,600 movie reviews (6.2 M characters), character 2-5-grams
#: took 9.2 s a fold against 3.4 s for word 1-2-grams, for a lower accuracy (0.860 vs 0.883);
#: on 240 of them (0.9 M characters) words and characters took 2 s a fold.
CHARACTER_NGRAMS_MAX = 1_000_000
#: Documents longer than this many words are read only up to it by an embedding model.
EMBEDDING_WORDS = 512


@dataclass(frozen=True)
class Documents:
    """The text column the text families read, and how.

    Examples
    --------
    >>> Documents.from_dict(Documents("body", characters=True).to_dict())
    Documents(column='body', characters=True, embeddings=None)
    """

    column: str
    #: Character n-grams beside the word n-grams (short documents; see CHARACTER_NGRAMS_MAX).
    characters: bool = False
    #: A local model2vec or sentence-transformers folder whose embeddings feed the tabular families.
    embeddings: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Documents | None":
        return None if data is None else cls(**data)


def document_notices(values: pd.Series, name: str, *, embeddings: bool = False) -> list[str]:
    """What a user should know about a column of documents: empty ones, ones longer than an
    embedding model reads, and ones mostly in a script word n-grams do not split into words
    (Chinese, Japanese, Thai...: character n-grams or embeddings read them).

    Examples
    --------
    >>> document_notices(pd.Series(["good film", "", None, "bad"]), "body")
    ["Column 'body': 2 of 4 documents are empty (50%); they are predicted from the other columns and the class balance."]
    """
    text = values.astype("object").map(lambda v: "" if v is None or v != v else str(v))
    n = len(text)
    notices = []
    empty = int((text.str.strip() == "").sum())
    if empty:
        notices.append(f"Column '{name}': {empty:,} of {n:,} documents are empty ({empty / n:.0%}); they are "
                       "predicted from the other columns and the class balance.")
    if embeddings:
        long = int((text.map(lambda doc: len(doc.split())) > EMBEDDING_WORDS).sum())
        if long:
            notices.append(f"Column '{name}': {long:,} documents are longer than {EMBEDDING_WORDS} words; the "
                           "embedding model reads their beginning only (the TF-IDF families read them whole).")
    sample = text.sample(min(n, 500), random_state=0) if n else text
    unspaced = sum(_unspaced_script(doc) for doc in sample)
    if unspaced > 0.2 * max(len(sample), 1):
        notices.append(f"Column '{name}': about {unspaced / len(sample):.0%} of documents are written in a script "
                       "without spaces between words (e.g. Chinese, Japanese, Thai); word n-grams take runs of "
                       "characters for words, so character n-grams (short documents) or --embeddings read "
                       "them better.")
    return notices


def _unspaced_script(doc: str) -> bool:
    """Whether most letters of ``doc`` belong to scripts written without spaces."""
    letters = [c for c in doc[:2000] if c.isalpha()]
    if not letters:
        return False
    unspaced = sum(unicodedata.name(c, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER",
                                                         "MYANMAR", "TIBETAN"))
                   for c in letters)
    return unspaced > 0.5 * len(letters)
