"""The CRF's token features: the word (in small letters and as written), its shape, prefixes
and suffixes (1-4 characters), flags (capitalised, capitals, digits...), how often it occurred
in training and the entity types it had there (a gazetteer); the same, fewer, for the two
words either side; the shapes of the word and its neighbours together; the word with its two
neighbours (``t=``, in small letters); the words 3 and 4 away (``L=``, ``R=``); the known
entity phrase it is part of, if any (``ph=B-ORG``), and its neighbours'; whether the sentence
is all capitals (a headline).

A word's features do not depend on its sentence, so each word's are computed once and kept
(:class:`Featurizer` caches them, already prefixed for each position they can be seen from);
a sentence's features are then a few list concatenations per token.

The gazetteer (:class:`Gazetteer`) maps a word to the entity types it carried in the training
data (``g=PER`` when it was ever part of a PER entity, ``G=PER`` when it was in at least half
of its occurrences), to where in an entity it stood (``gb=ORG`` first word, ``ge=ORG`` last,
``gu=ORG`` the whole entity: "Corp" ends companies, "New" begins places) and to how
often it occurred, and knows the entity phrases of training. On three 80/20 splits of the
CoNLL-2003 training sentences (none of them the benchmark's test part), the positions and the
``t=`` trigram together added 0.1 to 0.6 points of entity F1 (0.3 on average).
Built on all the training data, it would tell the CRF the answer on every
training sentence, and the CRF would learn to trust it blindly; :func:`gazetteers` therefore
cuts the documents, in their order, into :data:`FOLDS` blocks and builds, for each block, one
from the other blocks (out-of-fold); the model keeps one built on everything for new text.
Blocks, not random folds: documents side by side often share their names (the sentences of one
article, one customer's letters), and a gazetteer that has seen a neighbour's names tells the
CRF more than it will know of new text. On the same three splits, blocks instead of random
folds added 0.6 to 0.9 points of F1 (recall up, precision down a little).

Examples
--------
>>> from labcoat.tasks.extract.data import from_tokens
>>> doc = from_tokens(["Paris", "is", "big"], ["B-LOC", "O", "O"])
>>> featurizer = Featurizer(build_gazetteer([doc]))
>>> featurizer.gazetteer.phrases
{('Paris',): 'LOC'}
>>> sorted(f for f in featurizer.sentence(["Paris", "is"])[0] if f.startswith(("w=", "g=", "G=", "+1:w")))
['+1:w=is', 'G=LOC', 'g=LOC', 'w=paris']
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from labcoat.tasks.extract.data import Document, token_spans

#: Words whose features are kept at most; the cache starts again beyond (new text brings new words).
CACHE_WORDS = 200_000
_UPPER, _LOWER, _DIGIT = re.compile(r"[A-Z]"), re.compile(r"[a-z]"), re.compile(r"[0-9]")
_RUNS = re.compile(r"(.)\1+")
#: A word's features seen from itself, from 2 and 1 words after, from 1 and 2 before; its short
#: shape; and its word seen from 3 or 4 words after and before.
_Word = tuple[list[str], list[str], list[str], list[str], list[str], str, str, str]
#: Longest entity, in tokens, the phrase gazetteer matches.
PHRASE_TOKENS = 6
#: Blocks of the out-of-fold gazetteers (each built from 90% of the training documents).
FOLDS = 10


@dataclass(frozen=True)
class Gazetteer:
    """What training taught about words and phrases: ``words`` maps a word to its features
    (``g=TYPE``, ``G=TYPE``; ``lc`` for a capitalised word also seen in small letters),
    ``phrases`` a run of tokens to the entity type it was most of the times it occurred."""

    words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    phrases: dict[tuple[str, ...], str] = field(default_factory=dict)
    starts: frozenset[str] = frozenset()  #: the first tokens of ``phrases``

    def __len__(self) -> int:
        return len(self.words)

    def matches(self, tokens: Sequence[str]) -> list[str]:
        """Each token's phrase feature (``ph=B-TYPE``, ``ph=I-TYPE`` or ``""``): the longest
        known phrase starting at each token, left to right."""
        out = [""] * len(tokens)
        phrases, i, n = self.phrases, 0, len(tokens)
        while i < n:
            if tokens[i] not in self.starts:
                i += 1
                continue
            for length in range(min(PHRASE_TOKENS, n - i), 0, -1):
                label = phrases.get(tuple(tokens[i:i + length]))
                if label is not None:
                    out[i] = "ph=B-" + label
                    out[i + 1:i + length] = ["ph=I-" + label] * (length - 1)
                    i += length
                    break
            else:
                i += 1
        return out


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
    """The :class:`Gazetteer` of ``documents``: each word of an entity → ``g=TYPE`` for the
    types it was seen with, ``G=TYPE`` for the one it had in at least half of its occurrences,
    ``gb=``, ``ge=``, ``gu=TYPE`` when it began, ended or was an entity of that type;
    each entity's tokens → its type, when they were that type's entity in at least half of
    their occurrences."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    placed: dict[str, set[str]] = defaultdict(set)
    total: Counter[str] = Counter()
    named: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    small: set[str] = set()
    for doc in documents:
        tokens = doc.tokens
        total.update(tokens)
        small.update(t for t in tokens[1:] if t.islower())
        for a, b, label in token_spans(doc.tags or []):
            named[tuple(tokens[a:b])][label] += 1
            for token in tokens[a:b]:
                seen[token][label] += 1
            placed[tokens[a]].add(f"gb={label}")
            placed[tokens[b - 1]].add(f"ge={label}")
            if b - a == 1:
                placed[tokens[a]].add(f"gu={label}")
    occurs: Counter[tuple[str, ...]] = Counter()
    for doc in documents:
        tokens = doc.tokens
        for i in range(len(tokens)):
            for length in range(1, min(PHRASE_TOKENS, len(tokens) - i) + 1):
                key = tuple(tokens[i:i + length])
                if key in named:
                    occurs[key] += 1
    phrases = {}
    for key, labels in named.items():
        label, n = labels.most_common(1)[0]
        if 2 * n >= occurs[key]:
            phrases[key] = label
    words: dict[str, tuple[str, ...]] = {word: (_frequency(n),) for word, n in total.items()}
    for word, types in seen.items():
        words[word] += tuple(sorted(f"g={t}" for t in types)) + tuple(
            f"G={t}" for t, n in types.items() if 2 * n >= total[word]) + tuple(sorted(placed[word]))
    for word in total:
        if word[:1].isupper() and word.lower() in small:
            words[word] += ("lc",)
    return Gazetteer(words, phrases, frozenset(key[0] for key in phrases))


def gazetteers(documents: Sequence[Document], folds: int = FOLDS) -> tuple[np.ndarray, list[Gazetteer]]:
    """Out-of-fold gazetteers: each document's block (``folds`` runs of neighbouring
    documents) and, per block, the gazetteer of the others."""
    fold = np.arange(len(documents)) * folds // max(len(documents), 1)
    return fold, [build_gazetteer([d for d, f in zip(documents, fold) if f != k]) for k in range(folds)]


def _frequency(n: int) -> str:
    return "n=1" if n == 1 else "n=few" if n < 6 else "n=many"


class Featurizer:
    """The token features of sentences, with one gazetteer; words' features cached."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        self._cache: dict[str, _Word] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"gazetteer": self.gazetteer}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["gazetteer"])  # type: ignore[misc]

    def word(self, word: str) -> _Word:
        """``word``'s features (see ``_Word``)."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        lower, drawn, short = word.lower(), shape(word), short_shape(word)
        known = self.gazetteer.words
        gaz = known.get(word) or (known.get(word.title(), ()) if word.isupper() and len(word) > 1 else ()) or ("n=0",)
        flags = [name for name, on in (("title", word.istitle()), ("upper", word.isupper()),
                                       ("digit", word.isdigit()), ("alpha", word.isalpha()),
                                       ("hyphen", "-" in word), ("short", len(word) <= 2)) if on]
        own = ["bias", "w=" + lower, "W=" + word, "shape=" + drawn, "sh=" + short, *flags, *gaz,
               *(f"p{n}={lower[:n]}" for n in range(1, 5) if len(lower) >= n),
               *(f"s{n}={lower[-n:]}" for n in range(1, 5) if len(lower) >= n)]
        near = ["w=" + lower, "sh=" + short, "s3=" + lower[-3:], *flags[:2], *gaz]
        far = ["w=" + lower, "sh=" + short, *gaz]
        features = (own, [f"-2:{f}" for f in far], [f"-1:{f}" for f in near],
                    [f"+1:{f}" for f in near], [f"+2:{f}" for f in far], short, "L=" + lower, "R=" + lower)
        if len(self._cache) >= CACHE_WORDS:
            self._cache.clear()
        self._cache[word] = features
        return features

    def sentence(self, tokens: Sequence[str]) -> list[list[str]]:
        """Each token's features (strings, each worth 1) in the sentence ``tokens``."""
        words = [self.word(t) for t in tokens]
        n = len(words)
        caps = ["caps"] if n > 2 and all(t.isupper() or not t.isalpha() for t in tokens) else []
        phrases = (self.gazetteer.matches([t.title() for t in tokens] if caps else tokens)
                   if self.gazetteer.phrases else [""] * n)
        shapes = ["BOS", *(w[5] for w in words), "EOS"]
        lower = ["BOS", *(t.lower() for t in tokens), "EOS"]
        out = []
        for i in range(n):
            features = words[i][0] + caps
            features.append(f"shc={shapes[i]}|{shapes[i + 1]}|{shapes[i + 2]}")
            features.append(f"t={lower[i]}|{lower[i + 1]}|{lower[i + 2]}")
            if phrases[i]:
                features.append(phrases[i])
            if i and phrases[i - 1]:
                features.append("-1:" + phrases[i - 1])
            if i + 1 < n and phrases[i + 1]:
                features.append("+1:" + phrases[i + 1])
            features += words[i - 2][1] if i >= 2 else ["-2:BOS"] if i == 1 else []
            features += words[i - 1][2] if i >= 1 else ["BOS"]
            features += words[i + 1][3] if i + 1 < n else ["EOS"]
            features += words[i + 2][4] if i + 2 < n else ["+2:EOS"] if i + 2 == n else []
            features += [words[j][6] for j in range(max(0, i - 4), i - 2)]
            features += [words[j][7] for j in range(i + 3, min(n, i + 5))]
            out.append(features)
        return out
