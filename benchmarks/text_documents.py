"""Documents: labcoat against a TF-IDF + logistic regression baseline, FLAML and AutoGluon on
``../shared/datasets/text/movie_reviews.csv`` (2,000 reviews, ``label`` pos/neg), 5 folds.

Usage::

    python benchmarks/text_documents.py                  # 5 folds, 45 s per fold per system
    python benchmarks/text_documents.py --budget 20 --folds 2 --systems labcoat,baseline

Every fold's training rows go to each system as a table with the text column as given (no
``text_column`` for labcoat: it finds the documents itself), each AutoML system in its own
process and venv at the same budget, through ``benchmarks/automl.py``'s runner; the baseline is
scikit-learn's ``TfidfVectorizer()`` and ``LogisticRegression()`` with their defaults, fitted
here. This parent scores every system's test probabilities: accuracy (the most probable
class) and ROC AUC, mean over the folds with a 95% t interval over the 5 fold scores, and
labcoat's accuracy minus each other system's, paired by fold. Section ``text-documents`` of
``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from _results import cpu_name, write_section
from automl import ROOT, WORK, labcoat_commit, python_for, run_system

DATA = ROOT.parent / "shared" / "datasets" / "text" / "movie_reviews.csv"
TARGET = "label"
SYSTEMS = ("labcoat", "baseline", "flaml", "autogluon")


def prepare(fold: int, train: pd.DataFrame, test: pd.DataFrame) -> Path:
    workdir = WORK / "text-documents" / f"fold{fold}"
    workdir.mkdir(parents=True, exist_ok=True)
    train.to_csv(workdir / "train.csv", index=False)
    test.to_csv(workdir / "test.csv", index=False)
    (workdir / "task.json").write_text(json.dumps({"target": TARGET, "task": "binary", "metric": "roc_auc"}))
    return workdir


def baseline(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """scikit-learn's defaults: probabilities per class label, and the fit's seconds."""
    started = time.perf_counter()
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(train["text"], train[TARGET])
    seconds = time.perf_counter() - started
    return pd.DataFrame(model.predict_proba(test["text"]), columns=model.classes_), seconds


def scores(proba: pd.DataFrame, truth: pd.Series) -> tuple[float, float]:
    """Accuracy of the most probable class and ROC AUC of 'pos'."""
    labels = sorted(truth.astype(str).unique())
    p = proba.reindex(columns=labels, fill_value=0.0).to_numpy(dtype=float)
    predicted = np.array(labels)[p.argmax(axis=1)]
    return float((predicted == truth.astype(str).to_numpy()).mean()), float(roc_auc_score(truth == labels[1], p[:, 1]))


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t interval over folds."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def run(budget: float, folds: int, systems: list[str]) -> dict[str, list[dict]]:
    frame = pd.read_csv(DATA)
    results: dict[str, list[dict]] = {s: [] for s in systems}
    for s in systems:
        if s not in ("baseline",):
            python_for(s)  # venvs made before any timing
    splits = StratifiedKFold(5, shuffle=True, random_state=0).split(frame, frame[TARGET])
    for fold, (train_rows, test_rows) in enumerate(splits):
        if fold >= folds:
            break
        train, test = frame.iloc[train_rows], frame.iloc[test_rows]
        workdir = prepare(fold, train, test)
        for system in systems:
            if system == "baseline":
                proba, seconds = baseline(train, test)
                accuracy, auc = scores(proba, test[TARGET])
                record = {"status": "ok", "accuracy": accuracy, "auc": auc, "fit_seconds": seconds}
            else:
                outcome = run_system(system, workdir, budget)
                record = {"status": outcome.status, "error": outcome.error, "fit_seconds": outcome.fit_seconds,
                          "version": outcome.version}
                if outcome.status == "ok":
                    proba = pd.read_csv(workdir / system / "predictions.csv")
                    record["accuracy"], record["auc"] = scores(proba, test[TARGET])
            results[system].append(record)
            print(f"fold {fold} {system}: {record}", flush=True)
    return results


def render(results: dict[str, list[dict]], budget: float, folds: int) -> str:
    lines = [
        "## Documents: movie reviews (`benchmarks/text_documents.py`)",
        "",
        f"{date.today().isoformat()}, {cpu_name()}, 2 cores (shared with other work), Python "
        f"{platform.python_version()}, labcoat at commit `{labcoat_commit()[:10]}`. "
        f"`movie_reviews.csv` (2,000 reviews, pos/neg), {folds} of 5 stratified folds (seed 0); each "
        f"AutoML system fits the fold's 1,600 rows (`text`, `label`) at **{budget:g} s** in its own "
        "process and venv; the baseline is scikit-learn's `TfidfVectorizer()` + `LogisticRegression()` "
        "with their defaults. Mean over folds with a 95% t interval over the fold scores.",
        "",
        "| system | accuracy | 95% interval | ROC AUC | 95% interval | fit s (mean) | failed folds |",
        "| --- | ---: | --- | ---: | --- | ---: | ---: |",
    ]
    for system, records in results.items():
        ok = [r for r in records if r["status"] == "ok"]
        failed = len(records) - len(ok)
        if not ok:
            lines.append(f"| {system} | – | – | – | – | – | {failed} |")
            continue
        acc, auc = interval([r["accuracy"] for r in ok]), interval([r["auc"] for r in ok])
        seconds = np.mean([r["fit_seconds"] for r in ok])
        lines.append(f"| {system} | {acc[0]:.4f} | {acc[1]:.4f} – {acc[2]:.4f} | {auc[0]:.4f} | "
                     f"{auc[1]:.4f} – {auc[2]:.4f} | {seconds:.1f} | {failed} |")
    for system, records in results.items():
        errors = sorted({r.get("error", "").split("|")[-1].strip()[:160] for r in records if r["status"] != "ok"})
        if errors:
            lines.append(f"\n{system} failed on {sum(r['status'] != 'ok' for r in records)} fold(s): "
                         + "; ".join(f"`{e}`" for e in errors))
    lines += ["", "labcoat's accuracy minus each system's, paired by fold:", "",
              "| against | mean difference | 95% interval | folds labcoat ahead |", "| --- | ---: | --- | ---: |"]
    ours = results.get("labcoat", [])
    for system, records in results.items():
        if system == "labcoat":
            continue
        pairs = [(a["accuracy"], b["accuracy"]) for a, b in zip(ours, records)
                 if a["status"] == "ok" and b["status"] == "ok"]
        if not pairs:
            continue
        diff = interval([a - b for a, b in pairs])
        ahead = sum(a > b for a, b in pairs)
        lines.append(f"| {system} | {diff[0]:+.4f} | {diff[1]:+.4f} – {diff[2]:+.4f} | {ahead} of {len(pairs)} |")
    versions = {s: next((r.get("version") for r in rs if r.get("version")), "") for s, rs in results.items()}
    lines += ["", "Versions: " + ", ".join(f"{s} {v}" for s, v in versions.items() if v) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=45.0, help="seconds per fold per AutoML system")
    parser.add_argument("--folds", type=int, default=5, help="how many of the 5 folds to run")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)
    results = run(args.budget, args.folds, args.systems.split(","))
    (WORK / "text-documents" / "results.json").write_text(json.dumps(results, indent=1))
    text = render(results, args.budget, args.folds)
    print(text)
    if not args.no_write:
        write_section("text-documents", text)


if __name__ == "__main__":
    main()
