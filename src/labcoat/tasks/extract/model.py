"""A fitted entity extractor: the CRF and its features (with the gazetteer learned from all the
training data), or the spaCy pipeline when it scored better; how it was chosen
(:attr:`ExtractModel.leaderboard`) and how well it finds entities in text it never saw
(:attr:`ExtractModel.evaluation`).

Examples
--------
>>> from labcoat.tasks.extract.fit import fit_extract
>>> docs = [{"text": f"{n} visited {c} on Monday.", "entities": [[0, len(n), "PER"], [len(n) + 9, len(n) + 9 + len(c), "LOC"]]}
...         for n in ("Ann", "Bob", "Carla", "Dmitri", "Eve") for c in ("Paris", "Oslo", "Rome", "Lima")]
>>> model = fit_extract(pd.DataFrame(docs), budget=10, quiet=True)  # doctest: +SKIP
>>> model.extract(["Carla visited Oslo."])[["start", "end", "label", "text"]].values.tolist()  # doctest: +SKIP
[[0, 5, 'PER', 'Carla'], [14, 18, 'LOC', 'Oslo']]
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from labcoat import __version__
from labcoat.errors import DataError
from labcoat.tasks.extract.crf import marginal, tag
from labcoat.tasks.extract.data import token_spans
from labcoat.tasks.extract.features import Featurizer
from labcoat.tasks.extract.spacy_ner import SpacyNER
from labcoat.tasks.extract.tokens import tokenize
from labcoat.tasks.saved_folder import load_saved, write_mlmodel

#: 2: the spaCy pipeline in ``spacy/`` (a CRF's folder is still written as 1, which older labcoat reads).
FORMAT_VERSION = 2
KIND = "extract"
COLUMNS = ["document", "start", "end", "label", "text", "confidence"]
#: The spaCy pipeline's folder inside the model's.
SPACY_FOLDER = "spacy"


@dataclass(frozen=True)
class Evaluation:
    """How well the chosen configuration, trained without them, finds the entities of held-out
    documents: ``scores`` (precision, recall, F1 with 95% bootstrap intervals over documents,
    per label and ``overall``), ``confusion`` (gold label × label found on the same span, and
    missed), ``misses`` (examples of errors), ``documents`` held out and how (``split``)."""

    scores: pd.DataFrame
    confusion: pd.DataFrame
    misses: pd.DataFrame
    documents: int
    split: str

    @property
    def f1(self) -> float:
        return float(self.scores["f1"].to_dict()["overall"])


@dataclass
class ExtractModel:
    """What ``labcoat.fit(data, task="extract")`` returns: :meth:`extract` finds the entities
    of new texts."""

    crf: Any  #: the fitted ``sklearn_crfsuite.CRF`` (None when the spaCy pipeline was chosen)
    featurizer: Featurizer | None
    labels: list[str]  #: the entity types, sorted
    evaluation: Evaluation
    leaderboard: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    ner: SpacyNER | None = None  #: the spaCy pipeline, when it was chosen over the CRF

    task = KIND

    def extract(self, texts: Sequence[str] | pd.Series | str) -> pd.DataFrame:
        """The entities of each of ``texts``: one row per entity with its ``document`` (the
        text's position), ``start`` and ``end`` (character offsets into the text), ``label``,
        ``text`` and ``confidence`` (the CRF's: the smallest marginal probability of the tags of
        its tokens; spaCy's: the smallest probability of the recogniser's action on its tokens, see
        :mod:`~labcoat.tasks.extract.spacy_ner`). Texts are cut into tokens by
        :func:`~labcoat.tasks.extract.tokens.tokenize`; a missing text has no entities."""
        if isinstance(texts, str):
            raise DataError("Give extract a list of texts (a single text: [text]).")
        if isinstance(texts, pd.Series):
            texts = texts.tolist()
        cut: list[tuple[int, str, list[tuple[int, int]]]] = []
        for number, text in enumerate(texts):
            if not isinstance(text, str):
                if text is None or text != text:  # None, NaN: nothing to find
                    continue
                raise DataError(f"Text {number} is a {type(text).__name__}, not a string.")
            offsets = tokenize(text)
            if offsets:
                cut.append((number, text, offsets))
        found = self._entities([[text[s:e] for s, e in offsets] for _, text, offsets in cut])
        rows: list[tuple[int, int, int, str, str, float]] = []
        for (number, text, offsets), entities in zip(cut, found):
            for a, b, label, confidence in entities:
                start, end = offsets[a][0], offsets[b - 1][1]
                rows.append((number, start, end, label, text[start:end], round(confidence, 4)))
        frame = pd.DataFrame(rows, columns=COLUMNS)
        return frame.astype({"document": "int64", "start": "int64", "end": "int64", "confidence": "float64"})

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The BIO tags of each of ``sentences`` (lists of tokens, cut as the model's were)."""
        if self.ner is not None:
            return self.ner.tag(sentences)
        assert self.featurizer is not None
        return [tag(self.crf, self.featurizer.sentence(list(tokens))) for tokens in sentences]

    def _entities(self, sentences: Sequence[Sequence[str]]) -> list[list[tuple[int, int, str, float]]]:
        """Each sentence's entities: (first token, last token + 1, label, confidence)."""
        if self.ner is not None:
            return self.ner.entities(sentences)
        assert self.featurizer is not None
        out = []
        for tokens in sentences:
            tags = tag(self.crf, self.featurizer.sentence(list(tokens)))  # marginal() reads this sentence's
            out.append([(a, b, label, marginal(self.crf, tags, a, b)) for a, b, label in token_spans(tags)])
        return out

    def describe(self) -> str:
        """The model in words: what it learned from, how it was chosen, how well it does."""
        info, scores = self.info, self.evaluation.scores
        chosen = info.get("chosen", {})
        crf_f1 = chosen.get("crf_validation_f1")
        how = (f"a spaCy pipeline trained from scratch ({chosen.get('epochs')} epochs; validation F1 "
               f"{chosen.get('validation_f1', 0):.3f}" + (f", the CRF's {crf_f1:.3f})" if crf_f1 is not None else
                                                          ", the only candidate asked for)")
               if self.ner is not None else
               f"a CRF (c1 {chosen.get('c1', 0):.3g}, c2 {chosen.get('c2', 0):.3g}, {chosen.get('iterations')} "
               f"iterations) chosen among {info.get('trials', 0)} settings")
        lines = [f"Entity extraction ({', '.join(self.labels)}) learned from {info.get('documents', 0):,} documents "
                 f"({info.get('tokens', 0):,} tokens) by {how}.",
                 f"On {self.evaluation.documents:,} held-out documents ({self.evaluation.split}), exact entities "
                 "(span and label), 95% intervals over documents:"]
        for label, row in scores.iterrows():
            interval = (f" [{row['f1_low']:.3f}, {row['f1_high']:.3f}]" if "f1_low" in scores.columns else "")
            lines.append(f"  {label:<10} F1 {row['f1']:.3f}{interval}  precision {row['precision']:.3f}  "
                         f"recall {row['recall']:.3f}  ({int(row['support']):,} entities)")
        lines += list(info.get("notes", []))
        return "\n".join(lines)

    summary = describe

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the model to folder ``path``: ``labcoat.json``, ``evaluation.csv``,
        ``leaderboard.csv``, ``model.joblib``, the spaCy pipeline in ``spacy/`` (spaCy's own
        format) when it was chosen, and an ``MLmodel`` (texts in, entities out)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": KIND, "task": KIND, "format_version": 1 if self.ner is None else FORMAT_VERSION,
                "labcoat_version": __version__, **self.info}
        (folder / "labcoat.json").write_text(json.dumps(meta, indent=2, default=str))
        self.evaluation.scores.to_csv(folder / "evaluation.csv")
        self.leaderboard.to_csv(folder / "leaderboard.csv", index=False)
        if self.ner is not None:
            self.ner.to_disk(folder / SPACY_FOLDER)
        pickled = self if self.ner is None else replace(self, ner=self.ner.without_pipeline())  # in spacy/
        joblib.dump(pickled, folder / "model.joblib")
        write_mlmodel(folder, "labcoat.tracking.extract_pyfunc", inputs=[("text", "string")], params=[])
        return folder

    @classmethod
    def load(cls, path: str | Path) -> ExtractModel:
        """The model saved in folder ``path`` (a :class:`ModelFileError` saying what is wrong)."""
        model = load_saved(path, cls, kind=KIND, format_version=FORMAT_VERSION, what="an entity extraction model")
        if model.ner is not None and model.ner.nlp is None:
            model.ner = SpacyNER.from_disk(Path(path) / SPACY_FOLDER)
        return model
