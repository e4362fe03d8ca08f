"""Text (issue 19) in one run on the same machine: documents, entity extraction and the
built-in extractors.

Usage::

    python benchmarks/text.py                      # about 30 minutes on 2 cores
    python benchmarks/text.py --budget 20 --folds 2 --extract-budget 1m --no-write

* **Documents** (``text_documents.py``, section ``text-documents``): movie reviews, 5 folds,
  accuracy and ROC AUC; labcoat against TF-IDF + logistic regression with scikit-learn's
  defaults, FLAML and AutoGluon at the same budget per fold.
* **Extraction** (``text_extraction.py``, section ``text-extraction``): CoNLL-2003 English
  training set, first 80% to train, the rest scored; labcoat against sklearn-crfsuite with its
  tutorial's features: entity F1 per type and overall, training time, sentences per second.
* **Built-in extractors** (section ``text-builtin``): what each kind finds on the 2,000 movie
  reviews and how long it takes; the cards and IBANs found there are false positives (the
  reviews hold none), listed if any.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import text_documents  # noqa: E402
import text_extraction  # noqa: E402
from _results import cpu_name, write_section  # noqa: E402

REVIEWS = HERE.parent.parent / "shared" / "datasets" / "text" / "movie_reviews.csv"


def builtin_section() -> str:
    """The built-in extractors on the movie reviews: values per kind, seconds, false cards/IBANs."""
    from labcoat.tasks.extract.builtin import KINDS, extract_builtin

    texts = pd.read_csv(REVIEWS)["text"].fillna("").astype(str).tolist()
    started = time.perf_counter()
    found = extract_builtin(texts)
    seconds = time.perf_counter() - started
    counts = found["label"].value_counts()
    rows = [f"| {kind} | {int(counts.get(kind, 0)):,} |" for kind in KINDS]
    false = found[found["label"].isin(["card", "iban"])]
    lines = ["## Built-in extractors on the movie reviews (`benchmarks/text.py`)", "",
             f"{cpu_name()}; {len(texts):,} reviews, {sum(map(len, texts)):,} characters; every kind in one call: "
             f"{seconds:.2f} s.", "", "| kind | values found |", "| --- | ---: |", *rows, "",
             f"Card numbers or IBANs found (the reviews hold none, so each is a false positive): {len(false)}"
             + ("." if false.empty else ": " + ", ".join(map(repr, false["text"].head(10))) + ".")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="documents: seconds per fold per AutoML system")
    parser.add_argument("--folds", type=int, default=5, help="documents: how many of the 5 folds to run")
    parser.add_argument("--extract-budget", default="5m", help="extraction: labcoat's budget")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    keep = ["--no-write"] if args.no_write else []
    text = builtin_section()
    print(text)
    if not args.no_write:
        write_section("text-builtin", text)
    text_extraction.main(["--budget", args.extract_budget, *keep])
    text_documents.main(["--budget", str(args.budget), "--folds", str(args.folds), *keep])


if __name__ == "__main__":
    main()
