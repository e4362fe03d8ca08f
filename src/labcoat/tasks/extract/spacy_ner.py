"""The spaCy candidate: a blank spaCy pipeline (``spacy.blank("en")`` with spaCy's default
``ner`` component: its own tok2vec, a hash embedding of each word's norm, prefix, suffix and
shape and a CNN over it, under the transition-based entity recogniser) trained from scratch on
the documents' own tokens. Nothing is downloaded: no pretrained vectors, no pretrained model.

Each :class:`~labcoat.tasks.extract.data.Document` becomes a spaCy ``Doc`` of its tokens (so the
entities found are the spans the CRF is scored on) and an ``Example`` of its BIO tags (as
BILUO). :func:`train_spacy` runs epochs over the training documents, with spaCy's default
optimiser (Adam, parameter averaging), until its time is over or the validation F1 (by
:func:`~labcoat.tasks.extract.evaluate.entity_scores`, as the CRF's) has not improved for
:data:`PATIENCE` epochs; the best epoch's averaged weights are kept. CPU only, BLAS threads
limited to the caller's ``n_jobs``.

A found entity's ``confidence`` is the smallest, over its tokens, of the probability of the
action the recogniser took there (B, I, L or U of its type): the softmax, over the actions valid
in that state, of the scores it is trained to pick them by (log loss over the valid actions).
It is a local probability, given the actions before it, not the CRF's marginal over every
tagging of the sentence. (spaCy's beam scores, ``scored_ents``, were measured instead: on a
greedily trained recogniser they are 1.0 for every entity, wrong ones included.)

Examples
--------
>>> from labcoat.tasks.extract.data import from_tokens
>>> docs = [from_tokens([n, "met", m, "."], ["B-PER", "O", "B-PER", "O"])
...         for n in ("Ann", "Bob", "Eve") for m in ("Joe", "Kim", "Liv")] * 4
>>> ner, history = train_spacy(docs[:30], docs[30:], seconds=5, seed=0)  # doctest: +SKIP
>>> ner.tag([["Kim", "met", "Ann", "."]])  # doctest: +SKIP
[['B-PER', 'O', 'B-PER', 'O']]
"""
from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labcoat.errors import ConfigError, ModelFileError
from labcoat.tasks.extract.data import Document, token_spans
from labcoat.tasks.extract.evaluate import entity_scores

EXTRA = "The spaCy candidate of entity extraction needs spaCy: pip install 'labcoat[spacy]'."
#: The blank pipeline's language (its lexical attributes: norms, stop words, number words).
LANG = "en"
#: Sentences a training batch, dropout, and epochs without a better validation F1 before stopping.
BATCH = 32
DROPOUT = 0.1
PATIENCE = 3
#: Texts parsed at a time.
CHUNK = 256


def available() -> bool:
    """Whether spaCy is installed (found, not imported: importing it takes a second or more)."""
    import importlib.util

    try:
        return importlib.util.find_spec("spacy") is not None
    except ValueError:  # a spacy module without a spec (stubbed out)
        return False


def require_spacy() -> None:
    """A :class:`~labcoat.errors.ConfigError` naming the extra when spaCy is missing."""
    if not available():
        raise ConfigError(EXTRA)


class SpacyNER:
    """A trained spaCy pipeline that tags documents' tokens (``nlp``: its ``Language``)."""

    def __init__(self, nlp: Any) -> None:
        self.nlp = nlp

    def docs(self, sentences: Sequence[Sequence[str]]) -> list[Any]:
        """spaCy ``Doc`` s of ``sentences`` (lists of tokens) with their entities found."""
        from spacy.tokens import Doc

        vocab = self.nlp.vocab
        return list(self.nlp.pipe((Doc(vocab, words=list(tokens)) for tokens in sentences), batch_size=CHUNK))

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The BIO tags of each of ``sentences`` (lists of tokens)."""
        return [[t.ent_iob_ + "-" + t.ent_type_ if t.ent_type_ else "O" for t in doc] for doc in self.docs(sentences)]

    def entities(self, sentences: Sequence[Sequence[str]]) -> list[list[tuple[int, int, str, float]]]:
        """Each sentence's entities as (first token, last token + 1, label, confidence): the
        recogniser's greedy parse, each entity with the smallest probability of the actions that
        made it (see the module's docstring)."""
        from spacy.tokens import Doc

        vocab, out = self.nlp.vocab, []
        for i in range(0, len(sentences), CHUNK):
            docs = [Doc(vocab, words=list(tokens)) for tokens in sentences[i:i + CHUNK]]
            sure = self._parse(docs)
            out += [[(e.start, e.end, e.label_, float(p[e.start:e.end].min())) for e in doc.ents]
                    for doc, p in zip(docs, sure)]
        return out

    def _parse(self, docs: list[Any]) -> list[np.ndarray]:
        """Set ``docs``' entities as the recogniser's greedy parse does, step by step, and return
        the probability of the action taken at each token: the softmax, over the actions valid
        there, of the scores the recogniser is trained on (by log loss) to pick them."""
        ner = self.nlp.get_pipe("ner")
        moves = ner.moves
        names = [moves.get_class_name(c) for c in range(moves.n_moves)]
        states = moves.init_batch(docs)
        sure = [np.ones(len(doc)) for doc in docs]
        todo = [(i, state) for i, state in enumerate(states) if not state.is_final()]
        if todo:
            step = ner.model.predict(docs)
            while todo:
                scores = np.ascontiguousarray(step.predict([state for _, state in todo]), dtype="float32")
                valid = np.array([[moves.is_valid(state, name) for name in names] for _, state in todo])
                masked = np.where(valid, scores, -np.inf)
                masked = np.exp(masked - masked.max(axis=1, keepdims=True))
                chosen = masked.max(axis=1) / masked.sum(axis=1)
                for (i, state), p in zip(todo, chosen):
                    sure[i][state.B(0)] = p
                ner.transition_states([state for _, state in todo], scores)
                todo = [(i, state) for i, state in todo if not state.is_final()]
            step.clear_memory()
        ner.set_annotations(docs, states)
        return sure

    # ---------------------------------------------------------------- files
    def to_disk(self, folder: Path) -> None:
        """The pipeline in spaCy's own format (``spacy.load(folder)`` reads it too)."""
        self.nlp.to_disk(folder)

    @classmethod
    def from_disk(cls, folder: Path) -> SpacyNER:
        """The pipeline written by :meth:`to_disk` (the ``spacy`` extra named when missing)."""
        require_spacy()
        import spacy

        if not (folder / "config.cfg").is_file():
            raise ModelFileError(f"'{folder}' holds no spaCy pipeline (no config.cfg); the folder is incomplete. "
                                 "Save the model again.")
        with _cpu():
            return cls(spacy.load(folder))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as spaCy's config and bytes (``nlp`` None: saved in a folder of its own)."""
        if self.nlp is None:
            return {"config": None, "weights": None}
        return {"config": self.nlp.config.to_str(), "weights": self.nlp.to_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.nlp = None
        if state.get("config") is not None:
            require_spacy()
            from spacy import util
            from thinc.api import Config

            config = Config().from_str(state["config"])
            with _cpu():
                self.nlp = util.load_model_from_config(config, auto_fill=False).from_bytes(state["weights"])

    def without_pipeline(self) -> SpacyNER:
        """A copy without the pipeline, for pickling beside a :meth:`to_disk` folder."""
        return SpacyNER(None)


def example_docs(nlp: Any, docs: Sequence[Document]) -> list[Any]:
    """spaCy ``Example`` s of labelled ``docs``: their own tokens, their tags as BILUO."""
    from spacy.tokens import Doc
    from spacy.training import Example, iob_to_biluo

    out = []
    for d in docs:
        tokens = d.tokens
        spaces = [a[1] < b[0] for a, b in zip(d.offsets, d.offsets[1:])] + [False]
        out.append(Example.from_dict(Doc(nlp.vocab, words=tokens, spaces=spaces),
                                     {"entities": iob_to_biluo(list(d.tags or ["O"] * len(tokens)))}))
    return out


def train_spacy(train: Sequence[Document], valid: Sequence[Document], *, seconds: float, seed: int = 0,
                n_jobs: int = 1, start: SpacyNER | None = None,
                max_epochs: int | None = None) -> tuple[SpacyNER, list[dict[str, Any]]]:
    """A pipeline trained on ``train`` for at most ``seconds`` (see the module's docstring) and
    its epochs (``epoch``, validation ``f1``, ``precision``, ``recall``, ``seconds`` so far).

    Without ``valid`` documents, it trains for ``max_epochs`` (or until the time is over) and
    keeps the last weights. ``start``: continue training that pipeline (its weights updated)
    instead of a blank one."""
    require_spacy()
    import spacy
    from spacy.util import fix_random_seed, minibatch

    began = time.monotonic()
    with _cpu(n_jobs):
        fix_random_seed(seed)
        labels = sorted({label for d in train for _, _, label in token_spans(d.tags or [])})
        nlp: Any = spacy.blank(LANG) if start is None else start.nlp
        ner: Any = nlp.add_pipe("ner") if start is None else nlp.get_pipe("ner")
        for label in labels:  # a trained one's output layer grows for a new label
            ner.add_label(label)
        examples = example_docs(nlp, train)
        optimizer = nlp.initialize(lambda: examples) if start is None else nlp.resume_training()
        gold = [d.entities() for d in valid]
        rng = random.Random(seed)
        history: list[dict[str, Any]] = []
        best: tuple[float, int, bytes | None] = (-1.0, 0, None)
        epoch, out_of_time = 0, False
        while not out_of_time and (max_epochs is None or epoch < max_epochs):
            epoch += 1
            rng.shuffle(examples)
            for batch in minibatch(examples, size=BATCH):
                nlp.update(batch, drop=DROPOUT, sgd=optimizer, losses={})
                if time.monotonic() - began > seconds:
                    out_of_time = True
                    break
            if not valid:
                history.append({"epoch": epoch, "seconds": round(time.monotonic() - began, 2)})
                continue
            with nlp.use_params(optimizer.averages):
                tagger = SpacyNER(nlp)
                found = [d.entities(tags) for d, tags in zip(valid, tagger.tag([d.tokens for d in valid]))]
                overall = entity_scores(gold, found, resamples=0).loc["overall"].to_dict()
                scores = {name: float(overall[name]) for name in ("f1", "precision", "recall")}
                history.append({"epoch": epoch, **{k: round(v, 4) for k, v in scores.items()},
                                "seconds": round(time.monotonic() - began, 2)})
                if scores["f1"] > best[0]:
                    best = (scores["f1"], epoch, nlp.to_bytes())
            if best[0] > 0 and epoch - best[1] >= PATIENCE:  # (the first epochs may find nothing)
                break
        if best[2] is not None:
            nlp.from_bytes(best[2])
        else:
            nlp.from_bytes(_averaged_bytes(nlp, optimizer))
    return SpacyNER(nlp), history


def _averaged_bytes(nlp: Any, optimizer: Any) -> bytes:
    with nlp.use_params(optimizer.averages):
        return bytes(nlp.to_bytes())


class _cpu:
    """spaCy on the CPU, with BLAS thread pools limited to ``n_jobs`` (restored after)."""

    def __init__(self, n_jobs: int | None = None) -> None:
        self.n_jobs = n_jobs
        self.limits: Any = None

    def __enter__(self) -> None:
        from thinc.api import require_cpu

        require_cpu()
        if self.n_jobs is not None:
            from threadpoolctl import threadpool_limits

            self.limits = threadpool_limits(max(1, self.n_jobs))

    def __exit__(self, *exc: object) -> None:
        if self.limits is not None:
            self.limits.restore_original_limits()
