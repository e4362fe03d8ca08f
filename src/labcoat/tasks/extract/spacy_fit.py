"""The spaCy candidate within :func:`~labcoat.tasks.extract.fit.fit_extract`: trained on the
same training part as the CRF, scored on the same validation part with the same
:func:`~labcoat.tasks.extract.evaluate.entity_scores`, and, when it scores better than every CRF
setting (or is the only candidate asked for), scored on the test part and finished.

Budget: the pipeline trains first, for :data:`SHARE` of what is left of the budget (all of
:data:`ALONE_SHARE` when it is the only candidate); the CRF plans its trials in the rest. Under
:data:`MIN_SECONDS` it is skipped (from scratch, a few epochs find next to nothing). When it is
chosen, the CRF's refit and final fit are not run: the pipeline scored on the test part is the
one trained on the training part (its best epoch on the validation part), then it goes on
training on every document, for as many epochs as its best one took if the time left allows.

Examples
--------
>>> rival = train_rival(train, valid, clock, seed=0, n_jobs=1, alone=False, say=print)  # doctest: +SKIP
>>> rival.row["f1"]  # doctest: +SKIP
0.71
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from labcoat.search.budget import Clock
from labcoat.search.cores import idle_cores
from labcoat.tasks.extract.data import Document
from labcoat.tasks.extract.evaluate import confusion, entity_scores, misses
from labcoat.tasks.extract.model import Evaluation, ExtractModel
from labcoat.tasks.extract.spacy_ner import LANG, SpacyNER, train_spacy
from labcoat.tasks.extract.text_profile import reference_profile

#: The spaCy candidate's share of the budget left when it starts, beside the CRF, and alone.
#: Measured on CoNLL-2003 (7,189 training sentences, 2 cores): an epoch takes ~16 s and the
#: validation F1 levels off by the 4th (0.56, 0.75, 0.76, 0.79, 0.79, 0.79, 0.79), so at 5 min a
#: 35% share (~100 s) covers it; what early stopping leaves unused goes to the CRF.
SHARE = 0.35
ALONE_SHARE = 0.6
#: Below this many seconds of training, the candidate is skipped.
MIN_SECONDS = 10.0
#: Share of the time left that the final training may plan to fill.
FILL = 0.8


@dataclass
class Rival:
    """The spaCy candidate's leaderboard row, and its pipeline when it was trained."""

    row: dict[str, Any]
    ner: SpacyNER | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def train_rival(train: Sequence[Document], valid: Sequence[Document], clock: Clock, *, seed: int,
                n_jobs: int | None, alone: bool, say: Any) -> Rival:
    """The pipeline trained on ``train`` within its share of ``clock``, scored on ``valid``."""
    seconds = max(clock.remaining, 0.0) * (ALONE_SHARE if alone else SHARE)
    if seconds < MIN_SECONDS:
        return Rival({"candidate": "spacy", "status": f"skipped: {seconds:.0f} s of the budget for it, under "
                                                        f"{MIN_SECONDS:.0f} s"})
    began = time.monotonic()
    ner, history = train_spacy(train, valid, seconds=seconds, seed=seed, n_jobs=n_jobs or idle_cores())
    best = max(history, key=lambda h: h["f1"])
    row = {"candidate": "spacy", "epochs": int(best["epoch"]), "f1": best["f1"], "precision": best["precision"],
           "recall": best["recall"], "seconds": round(time.monotonic() - began, 2), "status": "ok"}
    say(f"  spaCy ({len(history)} epochs, the best the {best['epoch']}th): validation F1 {best['f1']:.4f} "
        f"({row['seconds']:.1f} s)")
    return Rival(row, ner, history)


def evaluate(ner: SpacyNER, test: Sequence[Document], seed: int,
             split: str) -> tuple[Evaluation, list[list[tuple[int, int, str]]]]:
    """``ner``'s entities of the ``test`` documents (on their own tokens) against theirs, and
    the entities it found."""
    gold = [d.entities() for d in test]
    found = [d.entities(tags) for d, tags in zip(test, ner.tag([d.tokens for d in test]))]
    return Evaluation(scores=entity_scores(gold, found, seed=seed), confusion=confusion(gold, found),
                      misses=misses([d.text for d in test], gold, found), documents=len(test), split=split), found


def spacy_model(rival: Rival, docs: Sequence[Document], train: Sequence[Document], valid: Sequence[Document],
                test: Sequence[Document], rows: list[dict[str, Any]], clock: Clock, notes: list[str], *,
                seed: int, n_jobs: int | None, started: float, say: Any) -> ExtractModel:
    """The extraction model of the chosen pipeline (see the module's docstring)."""
    assert rival.ner is not None
    labels = sorted({label for d in docs for _, _, label in d.entities()})
    leaderboard = pd.DataFrame(rows)
    leaderboard["chosen"] = [row is rival.row for row in rows]
    evaluation, found = evaluate(rival.ner, test, seed, split=(
        f"the last {len(test):,} documents; the pipeline trained on the {len(train):,} documents before the "
        f"{len(valid):,} it was tuned on"))
    say(f"  held out: F1 {evaluation.f1:.3f}")
    tokens = {name: sum(len(d.offsets) for d in part) for name, part in (("train", train), ("all", docs))}
    per_epoch = rival.history[-1]["seconds"] / len(rival.history) * tokens["all"] / max(tokens["train"], 1)
    epochs = int(min(rival.row["epochs"], max(clock.remaining, 0.0) * FILL / max(per_epoch, 1e-9)))
    began = time.monotonic()
    ner = rival.ner
    if epochs >= 1:
        ner, _ = train_spacy(docs, [], seconds=max(clock.remaining, 0.0) * FILL, seed=seed,
                             n_jobs=n_jobs or idle_cores(), start=ner, max_epochs=epochs)
    else:
        notes.append("The budget left no time to train the spaCy pipeline on every document; it is the one "
                     f"trained on {len(train):,} documents.")
    if clock.budget is not None and clock.remaining < 0:
        notes.append(f"The fits took {-clock.remaining:.0f} s more than the budget.")
    crf_f1 = [row["f1"] for row in rows if row["candidate"] == "crf" and row.get("status") == "ok"]
    counts = pd.Series([label for d in docs for _, _, label in d.entities()]).value_counts()
    info = {
        "task": "extract", "documents": len(docs), "tokens": tokens["all"], "labels": labels,
        "entities": {str(k): int(v) for k, v in sorted(counts.items())},
        "trials": int((leaderboard["status"] == "ok").sum()),
        "chosen": {"candidate": "spacy", "lang": LANG, "epochs": rival.row["epochs"], "final_epochs": max(epochs, 0),
                   "validation_f1": rival.row["f1"], "crf_validation_f1": max(crf_f1) if crf_f1 else None},
        "evaluation": {str(key): round(float(value), 4)
                       for key, value in evaluation.scores.loc["overall"].to_dict().items()
                       if str(key).startswith(("precision", "recall", "f1"))},
        "split": {"train": len(train), "validation": len(valid), "test": len(test)},
        "tokenizer": "labcoat.tasks.extract.tokens.tokenize", "final_fit_seconds": round(time.monotonic() - began, 2),
        "notes": notes, "seed": seed, "budget_seconds": clock.budget, "seconds": round(time.monotonic() - started, 2),
        "text_profile": reference_profile([d.text for d in docs], [d.text for d in test], found, labels),
    }
    return ExtractModel(crf=None, featurizer=None, labels=labels, evaluation=evaluation, leaderboard=leaderboard,
                        info=info, ner=ner)
