"""The CRF's token features: the word, its shape, prefixes and suffixes, flags, the entity types
it was seen with in training (a gazetteer), and the same for the two words either side.

A word's features do not depend on its sentence, so each word's are computed once and kept
(:class:`Featurizer` caches them, already prefixed for each position they can be seen from);
a sentence's features are then a few list concatenations per token.

The gazetteer maps a word to the entity types it carried in the training data: ``g=PER``
when it was ever part of a PER entity, ``G=PER`` when it was in at least half of its
occurrences. Built on all the training data, it would tell the CRF the answer on every
training sentence, and the CRF would learn to trust it blindly; :func:`gazetteers` therefore
builds, for each of a few folds of the sentences, one from the other folds (out-of-fold),
and the model keeps one built on everything for new text.

Examples
--------
>>> from labcoat.tasks.extract.data import from_tokens
>>> doc = from_tokens(["Paris", "is", "big"], ["B-LOC", "O", "O"])
>>> featurizer = Featurizer(build_gazetteer([doc]))
>>> sorted(f for f in featurizer.sentence(["Paris", "is"])[0] if f.startswith(("w=", "g=", "G=", "+1:w")))
['+1:w=is', 'G=LOC', 'g=LOC', 'w=paris']
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from labcoat.tasks.extract.data import Document, token_spans

#: Words whose features are kept at most; the cache starts again beyond (new text brings new words).
CACHE_WORDS = 200_000
_UPPER, _LOWER, _DIGIT = re.compile(r"[A-Z]"), re.compile(r"[a-z]"), re.compile(r"[0-9]")
_RUNS = re.compile(r"(.)\1+")
Gazetteer = dict[str, tuple[str, ...]]


def shape(word: str) -> str:
    """``word`` with capitals as X, small letters as x, digits as d (other characters as they
    are), at most 6 characters kept at each end.

    >>> shape("McDonald's"), shape("1996"), shape("U.S.")
    ("XxXxxxxx'x", 'dddd', 'X.X.')
    """
    drawn = _DIGIT.sub("d", _LOWER.sub("x", _UPPER.sub("X", word)))
    return drawn if len(drawn) <= 12 else drawn[:6] + drawn[-6:]


def short_shape(word: str) -> str:
    """:func:`shape` with repeats collapsed: ``Xx``, ``d``, ``X.X.``."""
    return _RUNS.sub(r"\1", shape(word))


def build_gazetteer(documents: Sequence[Document]) -> Gazetteer:
    """Each word of an entity in ``documents`` → ``g=TYPE`` for the types it was seen with, and
    ``G=TYPE`` for the one it had in at least half of its occurrences."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for doc in documents:
        tokens = doc.tokens
        total.update(tokens)
        for a, b, label in token_spans(doc.tags or []):
            for token in tokens[a:b]:
                seen[token][label] += 1
    return {word: tuple(sorted(f"g={t}" for t in types)) + tuple(
                f"G={t}" for t, n in types.items() if 2 * n >= total[word])
            for word, types in seen.items()}


def gazetteers(documents: Sequence[Document], folds: int, seed: int) -> tuple[np.ndarray, list[Gazetteer]]:
    """Out-of-fold gazetteers: each document's fold and, per fold, the gazetteer of the others."""
    fold = np.random.default_rng(seed).permutation(len(documents)) % folds
    return fold, [build_gazetteer([d for d, f in zip(documents, fold) if f != k]) for k in range(folds)]


class Featurizer:
    """The token features of sentences, with one gazetteer; words' features cached."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        self._cache: dict[str, tuple[list[str], list[str], list[str], list[str], list[str]]] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"gazetteer": self.gazetteer}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["gazetteer"])  # type: ignore[misc]

    def word(self, word: str) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
        """``word``'s features seen from itself, then from 2 and 1 words after, 1 and 2 before."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        lower, drawn, short = word.lower(), shape(word), short_shape(word)
        gaz = self.gazetteer.get(word, ())
        flags = [name for name, on in (("title", word.istitle()), ("upper", word.isupper()),
                                       ("digit", word.isdigit()), ("alpha", word.isalpha()),
                                       ("hyphen", "-" in word), ("short", len(word) <= 2)) if on]
        own = ["bias", "w=" + lower, "W=" + word, "shape=" + drawn, "sh=" + short, *flags, *gaz,
               *(f"p{n}={lower[:n]}" for n in range(1, 5) if len(lower) >= n),
               *(f"s{n}={lower[-n:]}" for n in range(1, 5) if len(lower) >= n)]
        near = ["w=" + lower, "sh=" + short, "s3=" + lower[-3:], *flags[:2], *gaz]
        far = ["w=" + lower, "sh=" + short, *gaz]
        features = (own, [f"-2:{f}" for f in far], [f"-1:{f}" for f in near],
                    [f"+1:{f}" for f in near], [f"+2:{f}" for f in far])
        if len(self._cache) >= CACHE_WORDS:
            self._cache.clear()
        self._cache[word] = features
        return features

    def sentence(self, tokens: Sequence[str]) -> list[list[str]]:
        """Each token's features (strings, each worth 1) in the sentence ``tokens``."""
        words = [self.word(t) for t in tokens]
        n = len(words)
        caps = ["caps"] if n > 2 and all(t.isupper() or not t.isalpha() for t in tokens) else []
        out = []
        for i in range(n):
            features = words[i][0] + caps
            features += words[i - 2][1] if i >= 2 else ["-2:BOS"] if i == 1 else []
            features += words[i - 1][2] if i >= 1 else ["BOS"]
            features += words[i + 1][3] if i + 1 < n else ["EOS"]
            features += words[i + 2][4] if i + 2 < n else ["+2:EOS"] if i + 2 == n else []
            out.append(features)
        return out
