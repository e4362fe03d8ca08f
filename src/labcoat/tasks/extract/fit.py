"""``labcoat.fit(data, task="extract")``: an entity extractor learned from labelled text.

The documents (:func:`~labcoat.tasks.extract.data.read_documents`: a CoNLL or JSON-lines
file, or a frame of texts and entity spans) are split in their order, so that the sentences
of one article stay together: the last :data:`TEST_SHARE` is the *test* part, held out until
the end; of the rest, the last :data:`VALID_SHARE` is the *validation* part. Then, within the
budget:

1. a short fit on a sample times the CRF (seconds per token and iteration), which sets the
   L-BFGS iterations every fit may run so that the planned fits hold in the budget;
2. the CRF's penalties ``c1`` (L1) and ``c2`` (L2) are tuned by Optuna (TPE, the usual
   ``c1 = c2 = 0.1`` first) on the validation part, each trial fitted on the rest, for as
   long as a trial and the two fits after it are left time;
3. the chosen setting is fitted on validation and training parts together and scored on the
   test part (:class:`~labcoat.tasks.extract.model.Evaluation`: entity precision, recall and
   F1 per type with bootstrap intervals, confusion, misses); when the budget is too short for
   that fit, the best trial's model is scored instead, and ``info["notes"]`` says so;
4. the final CRF is fitted on every document.

When spaCy is installed (the ``spacy`` extra), a spaCy pipeline trained from scratch is a
candidate too, trained first on the same training part within its share of the budget and
scored on the same validation part; it is chosen only when its validation F1 is higher than
every CRF setting's, then scored on the test part and finished instead of the CRF
(:mod:`~labcoat.tasks.extract.spacy_fit`). ``labcoat.fit``'s ``families=["crf"]`` or
``["spacy"]`` asks for one (``candidates`` here).

The gazetteer features of each training set are out-of-fold (see
:mod:`~labcoat.tasks.extract.features`); the text the model is scored on is featurized with
the gazetteer of the whole training set, as new text will be.

Examples
--------
>>> import pandas as pd
>>> docs = [{"text": f"{n} visited {c} on Monday.", "entities": [[0, len(n), "PER"], [len(n) + 9, len(n) + 9 + len(c), "LOC"]]}
...         for n in ("Ann", "Bob", "Carla", "Dmitri", "Eve") for c in ("Paris", "Oslo", "Rome", "Lima")]
>>> model = fit_extract(pd.DataFrame(docs), budget=10, quiet=True)  # doctest: +SKIP
>>> model.labels  # doctest: +SKIP
['LOC', 'PER']
"""
from __future__ import annotations

import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.search.budget import Clock, parse_budget
from labcoat.tasks.extract.crf import iterations_run, require_crfsuite, train_crf
from labcoat.tasks.extract.data import Document, read_documents, token_spans
from labcoat.tasks.extract.evaluate import confusion, entity_scores, misses
from labcoat.tasks.extract.features import Featurizer, build_gazetteer, gazetteers
from labcoat.tasks.extract.model import Evaluation, ExtractModel
from labcoat.tasks.extract.spacy_fit import spacy_model, train_rival
from labcoat.tasks.extract.spacy_ner import available as spacy_available
from labcoat.tasks.extract.spacy_ner import require_spacy
from labcoat.tasks.extract.text_profile import reference_profile

BUDGET = 60.0
TEST_SHARE = 0.2
VALID_SHARE = 0.2
MIN_DOCUMENTS = 20
#: L-BFGS iterations of a fit, at most and (unless the budget is very short) at least.
MAX_ITERATIONS = 150
MIN_ITERATIONS = 30
#: Trials the budget plans for before the evaluation and final fits (more when time is left).
PLANNED_TRIALS = 3
MAX_TRIALS = 30
#: Share of the budget the fits are planned to fill (the rest: featurizing, scoring, margins).
FILL = 0.8
CANDIDATES = ("crf", "spacy")


def fit_extract(data: Any, target: str | None = None, *, budget: float | str | None = None, seed: int = 0,
                quiet: bool = False, candidates: Sequence[str] | None = None, metric: str | None = None,
                time_column: str | None = None, n_jobs: int | None = None, executor: str | None = None,
                ray_address: str | None = None) -> ExtractModel:
    """Learn to extract the entities of ``data`` (see the module's docstring) within ``budget``
    (seconds or ``"5m"``; default :data:`BUDGET` s) and return an :class:`ExtractModel`."""
    started = time.monotonic()
    _refuse(target=target, metric=metric, time_column=time_column, ray_address=ray_address,
            executor=executor if executor not in (None, "local") else None)
    wanted = _check_candidates(candidates)
    clock = Clock(parse_budget(budget) if budget is not None else BUDGET)
    say = _printer(quiet)
    docs = read_documents(data)
    counts = Counter(label for d in docs for _, _, label in token_spans(d.tags or []))
    if not counts:
        raise DataError("The documents have no entities to learn from (every tag is O).")
    if len(docs) < MIN_DOCUMENTS:
        raise DataError(f"{len(docs)} documents are too few to learn and score entity extraction; give at least "
                        f"{MIN_DOCUMENTS}.")
    n_test = max(2, round(TEST_SHARE * len(docs)))
    dev, test = docs[:-n_test], docs[-n_test:]
    n_valid = max(2, round(VALID_SHARE * len(dev)))
    train, valid = dev[:-n_valid], dev[-n_valid:]
    notes: list[str] = []
    say(f"learning {len(counts)} entity types from {len(docs):,} documents: {len(train):,} to train, "
        f"{len(valid):,} to tune on, {len(test):,} to score on")

    rival = (train_rival(train, valid, clock, seed=seed, n_jobs=n_jobs, alone="crf" not in wanted, say=say)
             if "spacy" in wanted else None)
    if rival is not None and "crf" not in wanted:
        if rival.ner is None:
            raise ConfigError(f"The spaCy candidate alone was asked for, but {rival.row['status']}; give a longer "
                              "budget.")
        return _warned(spacy_model(rival, docs, train, valid, test, [rival.row], clock, notes, seed=seed,
                                   n_jobs=n_jobs, started=started, say=say))

    fit_set = _FitSet(train)
    rate = _calibrate(fit_set, seed)
    tokens = {name: _tokens(part) for name, part in (("train", train), ("dev", dev), ("all", docs))}

    def cost(iterations: int, trials: int, evaluate: bool = True) -> float:
        return rate * iterations * (trials * tokens["train"] + evaluate * tokens["dev"] + tokens["all"])

    left = max(clock.remaining, 0.0) * FILL
    iterations = int(min(MAX_ITERATIONS, left / cost(1, PLANNED_TRIALS)))
    short = iterations < MIN_ITERATIONS
    if short:
        iterations = max(5, int(min(MAX_ITERATIONS, left / cost(1, 1, evaluate=False))))
        notes.append(f"The budget allows {iterations} CRF iterations with one setting only; give more budget to "
                     "tune it and to score it after a fit of its own.")
    say(f"  {iterations} iterations a fit; {rate * 1e6:.2f} µs per token and iteration")

    rows, best, rate = _tune(fit_set, valid, iterations, clock, rate, tokens, short, seed, say)
    rows += [rival.row] if rival is not None else []  # last: a tie goes to the CRF
    chosen = rows[int(np.argmax([row.get("f1", -1.0) for row in rows]))]
    if rival is not None and chosen is rival.row:
        return _warned(spacy_model(rival, docs, train, valid, test, rows, clock, notes, seed=seed, n_jobs=n_jobs,
                                   started=started, say=say))
    leaderboard = pd.DataFrame(rows)
    leaderboard["chosen"] = [row is chosen for row in rows]
    params = {"c1": float(chosen["c1"]), "c2": float(chosen["c2"])}

    if not short and clock.remaining * FILL >= rate * iterations * (tokens["dev"] + tokens["all"]):
        dev_set = _FitSet(dev)
        crf = train_crf(dev_set.X, dev_set.y, iterations=iterations, **params)
        evaluation, found = _evaluate(crf, dev_set.featurizer, test, seed, split=(
            f"the last {len(test):,} documents; the chosen setting refitted on the {len(dev):,} before them"))
    else:
        evaluation, found = _evaluate(best, fit_set.featurizer, test, seed, split=(
            f"the last {len(test):,} documents; the best trial's model, fitted on {len(train):,} documents"))
        if not short:
            notes.append("The budget left no time to refit the chosen setting before scoring it; the evaluation is "
                         "the best trial's model's, fitted on fewer documents.")
    say(f"  held out: F1 {evaluation.f1:.3f}")

    final_set = _FitSet(docs)
    began = time.monotonic()
    crf = train_crf(final_set.X, final_set.y, iterations=iterations, **params)
    final_seconds = time.monotonic() - began
    if clock.budget is not None and clock.remaining < 0:
        notes.append(f"The fits took {-clock.remaining:.0f} s more than the budget.")
    info = {
        "task": "extract", "documents": len(docs), "tokens": tokens["all"], "labels": sorted(counts),
        "entities": dict(sorted(counts.items())), "trials": int((leaderboard["status"] == "ok").sum()),
        "chosen": {"candidate": "crf", **params, "iterations": iterations_run(crf), "max_iterations": iterations,
                   "validation_f1": round(float(chosen["f1"]), 4)},
        "evaluation": {str(key): round(float(value), 4) for key, value in evaluation.scores.loc["overall"].to_dict().items()
                       if str(key).startswith(("precision", "recall", "f1"))},
        "split": {"train": len(train), "validation": len(valid), "test": len(test)},
        "features": len(crf.state_features_), "gazetteer_words": len(final_set.featurizer.gazetteer),
        "tokenizer": "labcoat.tasks.extract.tokens.tokenize", "final_fit_seconds": round(final_seconds, 2),
        "notes": notes, "seed": seed, "budget_seconds": clock.budget, "seconds": round(time.monotonic() - started, 2),
        # What `labcoat monitor` compares new texts with (lifecycle/extract_monitor.py).
        "text_profile": reference_profile([d.text for d in docs], [d.text for d in test], found, sorted(counts)),
    }
    for note in notes:
        warnings.warn(note, LabcoatNotice, stacklevel=2)
    return ExtractModel(crf=crf, featurizer=final_set.featurizer, labels=sorted(counts), evaluation=evaluation,
                        leaderboard=leaderboard, info=info)


class _FitSet:
    """A training set's features (gazetteer out-of-fold), tags, and the featurizer of new text
    (the gazetteer of all of it)."""

    def __init__(self, docs: Sequence[Document]) -> None:
        fold, oof = gazetteers(docs)
        featurizers = [Featurizer(g) for g in oof]
        self.X = [featurizers[f].sentence(d.tokens) for d, f in zip(docs, fold)]
        self.y = [d.tags or [] for d in docs]
        self.featurizer = Featurizer(build_gazetteer(docs))


def _tokens(docs: Sequence[Document]) -> int:
    return sum(len(d.offsets) for d in docs)


def _calibrate(fit_set: _FitSet, seed: int) -> float:
    """Seconds a CRF fit takes per token and iteration, timed on a sample of ``fit_set``."""
    take = np.random.default_rng(seed).permutation(len(fit_set.X))[:1000]
    X, y = [fit_set.X[i] for i in take], [fit_set.y[i] for i in take]
    began = time.monotonic()
    crf = train_crf(X, y, c1=0.1, c2=0.1, iterations=10)
    return max((time.monotonic() - began) / (sum(map(len, X)) * max(iterations_run(crf), 1)), 1e-8)


def _tune(fit_set: _FitSet, valid: Sequence[Document], iterations: int, clock: Clock, rate: float,
          tokens: dict[str, int], short: bool, seed: int, say: Any) -> tuple[list[dict[str, Any]], Any, float]:
    """Trials of c1, c2 (Optuna's TPE) scored on ``valid``: the leaderboard's rows, the best
    trial's CRF, and the seconds per token and iteration the trials took."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({"c1": 0.1, "c2": 0.1})
    gold = [d.entities() for d in valid]
    features = [fit_set.featurizer.sentence(d.tokens) for d in valid]
    rows: list[dict[str, Any]] = []
    best: tuple[float, Any] = (-1.0, None)
    while len(rows) < (1 if short else MAX_TRIALS):
        needed = rate * iterations * (tokens["train"] + tokens["dev"] + tokens["all"])  # a trial, then the two fits
        if rows and clock.remaining * FILL < needed:
            break
        trial = study.ask()
        c1 = trial.suggest_float("c1", 1e-3, 2.0, log=True)
        c2 = trial.suggest_float("c2", 1e-4, 1.0, log=True)
        began = time.monotonic()
        crf = train_crf(fit_set.X, fit_set.y, c1=c1, c2=c2, iterations=iterations)
        seconds = time.monotonic() - began
        rate = seconds / (tokens["train"] * max(iterations_run(crf), 1))  # measured on the real thing
        found = [d.entities(crf.tagger_.tag(x)) for d, x in zip(valid, features)]
        scores = {str(k): float(v) for k, v in entity_scores(gold, found, resamples=0).loc["overall"].to_dict().items()}
        study.tell(trial, scores["f1"])
        rows.append({"candidate": "crf", "c1": round(c1, 5), "c2": round(c2, 5), "iterations": iterations_run(crf),
                     "f1": round(scores["f1"], 4), "precision": round(scores["precision"], 4),
                     "recall": round(scores["recall"], 4), "seconds": round(seconds, 2), "status": "ok"})
        say(f"  c1 {c1:.3g}, c2 {c2:.3g}: validation F1 {scores['f1']:.4f} ({seconds:.1f} s)")
        if scores["f1"] > best[0]:
            best = (scores["f1"], crf)
    return rows, best[1], rate


def _evaluate(crf: Any, featurizer: Featurizer, test: Sequence[Document], seed: int,
              split: str) -> tuple[Evaluation, list[list[tuple[int, int, str]]]]:
    """``crf``'s entities of the ``test`` documents (on their own tokens) against theirs, and
    the entities it found."""
    gold = [d.entities() for d in test]
    found = [d.entities(crf.tagger_.tag(featurizer.sentence(d.tokens))) for d in test]
    return Evaluation(scores=entity_scores(gold, found, seed=seed), confusion=confusion(gold, found),
                      misses=misses([d.text for d in test], gold, found), documents=len(test), split=split), found


def _check_candidates(candidates: Sequence[str] | None) -> list[str]:
    """The candidates to train: those named, else the CRF and, when spaCy is installed, spaCy
    (a candidate named without its extra: the extra named)."""
    names = [candidates] if isinstance(candidates, str) else list(candidates or [])
    unknown = [n for n in names if str(n).lower() not in CANDIDATES]
    if unknown:
        raise ConfigError(f"Unknown entity extraction candidate(s) {', '.join(map(repr, unknown))}; use "
                          f"{', '.join(CANDIDATES)}.")
    wanted = [str(n).lower() for n in names] or ["crf", *(["spacy"] if spacy_available() else [])]
    if "crf" in wanted:
        require_crfsuite()
    if "spacy" in wanted:
        require_spacy()
    return wanted


def _warned(model: ExtractModel) -> ExtractModel:
    for note in model.info["notes"]:
        warnings.warn(note, LabcoatNotice, stacklevel=3)
    return model


def _refuse(**given: Any) -> None:
    used = [name for name, value in given.items() if value is not None]
    if used:
        raise ConfigError(f"{', '.join(used)} {'does' if len(used) == 1 else 'do'} not apply to entity extraction; "
                          f"drop {'it' if len(used) == 1 else 'them'}. It takes the labelled text (a CoNLL or "
                          "JSON-lines file), a budget and a seed.")


def _printer(quiet: bool) -> Any:
    def say(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)
    return say
