"""Entity extraction: labcoat (``task="extract"``) against sklearn-crfsuite with the feature set
of its own tutorial, on the CoNLL-2003 English training set.

Usage::

    python benchmarks/text_extraction.py                 # about 6 minutes on 2 cores
    python benchmarks/text_extraction.py --budget 1m --no-write

Data: ``../shared/datasets/text/conll2003_train.tsv`` (14,041 sentences, one token and its BIO
tag per line); both systems train on the first 80% of the sentences, in the file's order, and
are scored on the rest (the later articles: no sentence of a scored article was trained on).

* **labcoat**: ``labcoat.fit(train_file, task="extract", budget=...)`` on the first 80% written
  as a CoNLL file (its own tuning and evaluation splits are inside that part); scored on the
  held-out sentences' own tokens (``tagged``, as the tutorial CRF is) and on their text, tokens
  joined by spaces, through ``model.extract`` (``from text``: its tokenizer included). With the
  ``spacy`` extra installed, its candidates are the CRF and a spaCy pipeline trained from scratch;
  the output names the one chosen and prints the leaderboard.
* **tutorial CRF**: sklearn-crfsuite's tutorial features (``word.lower()``, ``word[-3:]``,
  ``word[-2:]``, ``isupper``, ``istitle``, ``isdigit``; lower, title and upper of the words at
  ±1; ``BOS``/``EOS``; its postag features dropped, as the file has no tags), ``c1=0.1``,
  ``c2=0.1``, ``max_iterations=100``, ``all_possible_transitions=True``.

Figures: entity-level precision, recall and F1 (exact span and label) per type and overall,
with 95% bootstrap intervals over the held-out sentences; training seconds; extraction
throughput in sentences per second on one core (the process pinned to one CPU; labcoat from
text, tokenizer included; the tutorial from its tokens, features included): the first of 3
passes (labcoat's cache of word features empty) and the best.
Targets (issue 19): overall F1 >= 0.88, >= 3 points above the tutorial CRF; >= 2,000 sentences/s.
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import cpu_name, machine_state, write_section  # noqa: E402

DATA = HERE.parent.parent / "shared" / "datasets" / "text" / "conll2003_train.tsv"
TRAIN_SHARE = 0.8


def sentences(path: Path) -> list[tuple[list[str], list[str]]]:
    """The (tokens, tags) of each sentence of a two-column CoNLL file."""
    out, tokens, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if tokens:
                out.append((tokens, tags))
            tokens, tags = [], []
            continue
        token, tag = line.split("\t")
        tokens.append(token)
        tags.append(tag)
    if tokens:
        out.append((tokens, tags))
    return out


def word2features(sent: list[str], i: int) -> dict[str, Any]:
    """sklearn-crfsuite's tutorial features (without its part-of-speech ones)."""
    word = sent[i]
    features: dict[str, Any] = {"bias": 1.0, "word.lower()": word.lower(), "word[-3:]": word[-3:],
                                "word[-2:]": word[-2:], "word.isupper()": word.isupper(),
                                "word.istitle()": word.istitle(), "word.isdigit()": word.isdigit()}
    if i > 0:
        word1 = sent[i - 1]
        features.update({"-1:word.lower()": word1.lower(), "-1:word.istitle()": word1.istitle(),
                         "-1:word.isupper()": word1.isupper()})
    else:
        features["BOS"] = True
    if i < len(sent) - 1:
        word1 = sent[i + 1]
        features.update({"+1:word.lower()": word1.lower(), "+1:word.istitle()": word1.istitle(),
                         "+1:word.isupper()": word1.isupper()})
    else:
        features["EOS"] = True
    return features


def sent2features(sent: list[str]) -> list[dict[str, Any]]:
    return [word2features(sent, i) for i in range(len(sent))]


def one_core() -> None:
    """Pin this process to one CPU (throughput on one core)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def all_cores(cores: set[int]) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)


def throughput(run: Any, count: int, passes: int = 3) -> tuple[float, float]:
    """Sentences per second of ``run()`` (which handles ``count`` sentences): the first pass
    (labcoat's word cache cold) and the best of ``passes``."""
    times = []
    for _ in range(passes):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return count / times[0], count / min(times)


def tutorial(train: list[tuple[list[str], list[str]]], test: list[tuple[list[str], list[str]]]) -> dict[str, Any]:
    import sklearn_crfsuite

    from labcoat.tasks.extract.data import from_tokens

    began = time.monotonic()
    X = [sent2features(tokens) for tokens, _ in train]
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=100, all_possible_transitions=True)
    crf.fit(X, [tags for _, tags in train])
    seconds = time.monotonic() - began
    predicted = crf.predict([sent2features(tokens) for tokens, _ in test])
    found = [from_tokens(tokens).entities(tags) for (tokens, _), tags in zip(test, predicted)]
    return {"found": found, "seconds": seconds, "extract": lambda: crf.predict([sent2features(t) for t, _ in test])}


def labcoat_run(train: list[tuple[list[str], list[str]]], test: list[tuple[list[str], list[str]]],
                budget: str) -> dict[str, Any]:
    import labcoat
    from labcoat.tasks.extract.data import from_tokens

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "train.conll"
        path.write_text("".join("".join(f"{w}\t{t}\n" for w, t in zip(tokens, tags)) + "\n" for tokens, tags in train))
        began = time.monotonic()
        model = labcoat.fit(path, task="extract", budget=budget, track=False, report=False)
        seconds = time.monotonic() - began
    docs = [from_tokens(tokens) for tokens, _ in test]
    tagged = [d.entities(tags) for d, tags in zip(docs, model.tag([d.tokens for d in docs]))]
    texts = [d.text for d in docs]
    frame = model.extract(texts)
    from_text: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    for row in frame.itertuples(index=False):
        from_text[row.document].append((row.start, row.end, row.label))
    fresh = pickle.loads(pickle.dumps(model))  # its cache of word features empty, as after labcoat.load
    return {"found": tagged, "from_text": from_text, "seconds": seconds, "model": model,
            "extract": lambda: fresh.extract(texts)}


def choice(model: Any) -> str:
    """The candidate labcoat chose, its settings and validation F1, and the other candidate's."""
    chosen, board = model.info["chosen"], model.leaderboard
    crf = board[(board["candidate"] == "crf") & (board["status"] == "ok")]
    spacy = board[board["candidate"] == "spacy"]
    rival = ("" if spacy.empty else f"; spaCy pipeline: {spacy['status'].iloc[0]}" if spacy["status"].iloc[0] != "ok"
             else f"; spaCy pipeline from scratch: validation F1 {spacy['f1'].iloc[0]:.4f} after "
                  f"{spacy['epochs'].iloc[0]:.0f} epochs, {spacy['seconds'].iloc[0]:.0f} s")
    if chosen["candidate"] == "spacy":
        return (f"the spaCy pipeline ({chosen['epochs']} epochs, then {chosen['final_epochs']} on every sentence; "
                f"validation F1 {chosen['validation_f1']:.4f} against the best CRF's {crf['f1'].max():.4f})")
    return (f"the CRF (c1 {chosen['c1']:.4g}, c2 {chosen['c2']:.4g}, {chosen['iterations']} L-BFGS iterations; "
            f"validation F1 {chosen['validation_f1']:.4f}, the best of {len(crf)} settings{rival})")


def table(scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Label × system: F1 [interval], then precision and recall."""
    rows = []
    for label in next(iter(scores.values())).index:
        row: dict[str, Any] = {"type": label, "entities": int(next(iter(scores.values())).loc[label, "support"])}
        for system, frame in scores.items():
            r = frame.loc[label]
            row[f"{system} F1 [95%]"] = f"{r['f1']:.4f} [{r['f1_low']:.4f}, {r['f1_high']:.4f}]"
            row[f"{system} P / R"] = f"{r['precision']:.3f} / {r['recall']:.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    rows = [[str(c) for c in frame.columns], *([str(v) for v in row] for row in frame.itertuples(index=False))]
    return "\n".join("| " + " | ".join(r) + " |" for r in [rows[0], ["---"] * len(rows[0]), *rows[1:]])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", default="5m", help="labcoat's budget (default 5m)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    from labcoat.tasks.extract.evaluate import entity_scores

    started = time.monotonic()
    state_before = machine_state()
    print(f"machine before: {state_before}", flush=True)
    data = sentences(args.data)
    cut = int(TRAIN_SHARE * len(data))
    train, test = data[:cut], data[cut:]
    from labcoat.tasks.extract.data import from_tokens

    gold = [from_tokens(tokens, tags).entities() for tokens, tags in test]
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    ours = labcoat_run(train, test, args.budget)
    print(f"labcoat: fit {ours['seconds']:.1f} s", flush=True)
    theirs = tutorial(train, test)
    print(f"tutorial CRF: fit {theirs['seconds']:.1f} s", flush=True)
    scores = {"labcoat": entity_scores(gold, ours["found"]), "labcoat from text": entity_scores(gold, ours["from_text"]),
              "tutorial CRF": entity_scores(gold, theirs["found"])}
    one_core()
    for run in (ours, theirs):
        run["speed"] = throughput(run["extract"], len(test))
    all_cores(cores)
    result = table(scores)
    summary = pd.DataFrame([
        {"system": "labcoat", "overall F1": f"{scores['labcoat'].loc['overall', 'f1']:.4f}",
         "from text F1": f"{scores['labcoat from text'].loc['overall', 'f1']:.4f}",
         "training s": f"{ours['seconds']:.1f}",
         "sentences/s (one core): first pass / best": f"{ours['speed'][0]:,.0f} / {ours['speed'][1]:,.0f}"},
        {"system": "tutorial CRF", "overall F1": f"{scores['tutorial CRF'].loc['overall', 'f1']:.4f}",
         "from text F1": "", "training s": f"{theirs['seconds']:.1f}",
         "sentences/s (one core): first pass / best": f"{theirs['speed'][0]:,.0f} / {theirs['speed'][1]:,.0f}"}])
    model = ours["model"]
    wall = time.monotonic() - started
    state_after = machine_state()
    print("\n" + markdown(result) + "\n\n" + markdown(summary), flush=True)
    print(f"\nlabcoat chose {choice(model)}; its own held-out estimate F1 {model.evaluation.f1:.4f}", flush=True)
    print(markdown(model.leaderboard), flush=True)
    print(f"wall {wall / 60:.1f} min; machine after: {state_after}", flush=True)
    if args.no_write:
        return
    write_section("text-extraction", report(args, len(train), len(test), result, summary, model, wall,
                                            state_before, state_after))
    print("RESULTS.md updated (section text-extraction)")


def report(args: argparse.Namespace, n_train: int, n_test: int, result: pd.DataFrame, summary: pd.DataFrame,
           model: Any, wall: float, before: str, after: str) -> str:
    from importlib.metadata import version

    details = (f"Features: {model.info['features']:,}; gazetteer words: {model.info['gazetteer_words']:,}."
               if "features" in model.info else "")
    return f"""## Entity extraction (`benchmarks/text_extraction.py`)

`python benchmarks/text_extraction.py --budget {args.budget}` on {cpu_name()} ({os.cpu_count()} cores,
shared), {time.strftime('%Y-%m-%d')}; wall {wall / 60:.1f} min. CoNLL-2003 English training set:
the first {n_train:,} sentences to train, the last {n_test:,} to score (later articles). labcoat
(`task="extract"`, budget {args.budget}) against sklearn-crfsuite {version('sklearn-crfsuite')} with its
tutorial's features (no part-of-speech tags), c1 = c2 = 0.1, 100 iterations. Entity-level scores
(exact span and label), 95% bootstrap intervals over the scored sentences. labcoat is scored on the
sentences' tokens, as the tutorial CRF is; *from text* is `model.extract` on the sentences' text
(tokens joined by spaces), its own tokenizer included. Throughput: the process pinned to one core,
3 passes over the {n_test:,} sentences, the first and the best (labcoat from text, its word-feature
cache empty at the first pass; the tutorial from tokens).

{markdown(result)}

{markdown(summary)}

labcoat's choice: {choice(model)}, on its own validation split; its own held-out estimate (the
chosen candidate without its test split, the last 20% of the training sentences): F1
{model.evaluation.f1:.4f}. {details}

Machine before: {before}. After: {after}.
"""


if __name__ == "__main__":
    main()
