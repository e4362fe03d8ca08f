"""Features of a text-first table's documents (``schema.documents``): the word and character
n-gram TF-IDF of the ``"text"`` style, and :class:`DocumentEmbedder`, a local model2vec or
sentence-transformers model's embeddings, which the other styles read beside their columns.

Nothing is downloaded: the embedding model is a folder the user has (``--embeddings PATH``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from labcoat.data.documents import EMBEDDING_WORDS, Documents
from labcoat.errors import ConfigError

#: The word n-grams' block in a ``"text"`` preprocessor (``<prefix><column>``); the explanations
#: read the words from it.
WORDS = "words_"
CHARACTERS = "chars_"


def document_parts(documents: Documents) -> list[tuple[str, object, str]]:
    """ColumnTransformer parts for the documents column: word 1-2-grams, and character 2-5-grams
    within words when the documents are short enough (``documents.characters``).

    Examples
    --------
    >>> [name for name, _, _ in document_parts(Documents("body", characters=True))]
    ['words_body', 'chars_body']
    """
    name = documents.column
    parts: list[tuple[str, object, str]] = [
        (WORDS + name, TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=200_000, sublinear_tf=True),
         name)]
    if documents.characters:
        parts.append((CHARACTERS + name, TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                                         max_features=200_000, sublinear_tf=True), name))
    return parts


def embedding_library(path: str | Path) -> str:
    """Which library reads the model folder at ``path``: ``"model2vec"`` or
    ``"sentence_transformers"``; a clear error when it is neither or the library is missing."""
    import importlib.util

    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"Embedding model folder '{path}' does not exist. Give the folder of a local "
                          "model2vec or sentence-transformers model (nothing is downloaded).")
    config = folder / "config.json"
    settings = json.loads(config.read_text()) if config.is_file() else {}
    if (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file() \
            and "architectures" not in settings:
        library, extra = "model2vec", "text"
    elif (folder / "modules.json").is_file():
        library, extra = "sentence_transformers", "sentence-transformers"
    else:
        raise ConfigError(f"'{path}' is not a model2vec or sentence-transformers model folder (no "
                          "model.safetensors with tokenizer.json, no modules.json).")
    if importlib.util.find_spec(library) is None:
        raise ConfigError(f"Reading '{path}' needs {library}: pip install "
                          + ("'labcoat[text]'" if extra == "text" else extra))
    return library


class DocumentEmbedder(TransformerMixin, BaseEstimator):
    """One column of documents → the mean embedding of each, from a local model folder.

    The model is loaded at ``fit`` and pickled with the transformer (a model2vec model is its
    vectors and tokenizer), so a saved labcoat model needs the folder only to be fitted.

    Examples
    --------
    >>> DocumentEmbedder(path="models/potion-base-8M")  # doctest: +SKIP
    """

    def __init__(self, *, path: str = "") -> None:
        self.path = path

    def fit(self, X: Any, y: Any = None) -> "DocumentEmbedder":
        self.library_ = embedding_library(self.path)
        if self.library_ == "model2vec":
            from model2vec import StaticModel

            self.model_ = StaticModel.from_pretrained(Path(self.path), force_download=False)
        else:
            from sentence_transformers import SentenceTransformer

            self.model_ = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.width_ = int(self.transform(["a"]).shape[1])
        return self

    def transform(self, X: Any) -> np.ndarray:
        docs = [_text(v) for v in _column(X)]
        if self.library_ == "model2vec":
            out = self.model_.encode(docs, max_length=EMBEDDING_WORDS, use_multiprocessing=False)
        else:
            out = self.model_.encode(docs, batch_size=32, show_progress_bar=False)
        return np.asarray(out, dtype=np.float64).reshape(len(docs), -1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"embedding_{i}" for i in range(self.width_)], dtype=object)


def _column(X: Any) -> list[Any]:
    """The values of a one-column input: a Series, a frame's only column, an array or a list."""
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:
        return list(X.iloc[:, 0])
    array = np.asarray(X, dtype=object)
    return list(array[:, 0] if array.ndim == 2 else array)


def _text(value: Any) -> str:
    return "" if value is None or value != value else str(value)
