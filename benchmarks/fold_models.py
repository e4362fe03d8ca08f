"""Fold models: the ensemble's members refitted on all rows against the same members averaged
with models of their parameters fitted on each fold's training rows (``labcoat.train.fold_bag``).

Reads the models ``benchmarks/automl.py`` saved (``benchmarks/.work/DATASET/labcoat/model``) and
that run's splits; for every member of each ensemble it fits 5 models on the folds' training
rows (stratified for classes, seed 0) through the member's all-row preprocessing (boosters and
networks only, ``Family.bags_folds``, as ``fit`` does; the other members as they are), and scores
on the test rows: the all-row models' blend, the fold models' blend, and the blend of each
member's mean of both (what ``fit`` now does). Members and weights stay as the search chose
them, so only the final models differ. Sets above ``fold_bag.BAG_MAX_ROWS`` rows are skipped.

Usage: ``python benchmarks/fold_models.py [--datasets a,b] [--out benchmarks/RESULTS.md]``
(after ``benchmarks/automl.py`` has run with labcoat).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, write_section  # noqa: E402

import labcoat  # noqa: E402
from labcoat.features.build import native_categorical_count, transform  # noqa: E402
from labcoat.models import FAMILIES, BuildContext  # noqa: E402
from labcoat.train.fold_bag import BAG_MAX_ROWS  # noqa: E402

WORK = Path(__file__).resolve().parent / ".work"
FOLDS = 5


def score(output: np.ndarray, y: np.ndarray, classes: list[str] | None) -> float:
    """ROC AUC (two classes), log loss (more) or RMSE, as ``automl.py`` scores."""
    if classes is None:
        return float(np.sqrt(np.mean((output - y) ** 2)))
    if len(classes) == 2:
        return float(roc_auc_score(y, output[:, 1]))
    return float(-np.mean(np.log(np.clip(output[np.arange(len(y)), y], 1e-15, 1))))


def study(name: str) -> dict[str, object] | None:
    folder = WORK / name
    model = labcoat.load(folder / "labcoat" / "model")
    task = json.loads((folder / "task.json").read_text())
    train, test = pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "test.csv")
    if len(train) > BAG_MAX_ROWS:
        return None
    target = task["target"]
    classes = None if model.schema.classes is None else [str(c) for c in model.schema.classes]
    if classes is None:
        y_train, y_test = train[target].to_numpy(float), test[target].to_numpy(float)
        splits = KFold(FOLDS, shuffle=True, random_state=0).split(y_train)
    else:
        y_train = np.array([classes.index(str(v)) for v in train[target]])
        y_test = np.array([classes.index(str(v)) for v in test[target]])
        splits = StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(y_train, y_train)
    folds = [rows for rows, _ in splits]
    kind, n_classes = model.task.estimator_type, (len(classes) if classes else None)
    train_rows = model.schema.prepare_columns(train.drop(columns=[target]))
    test_rows = model.schema.prepare_columns(test.drop(columns=[target]))
    started = time.perf_counter()
    blends = {"all rows": 0.0, "fold models": 0.0, "both": 0.0}
    for member in model.members:
        family = FAMILIES[member.family]
        key = member.preprocessor or member.style
        X, X_test = transform(model.preprocessors[key], train_rows), transform(model.preprocessors[key], test_rows)
        context = BuildContext(kind=kind, n_classes=n_classes or 0, seed=0, n_jobs=2, n_rows=len(train),
                               native_categoricals=native_categorical_count(model.schema, family.style))
        whole = family.predict(member.estimator, X_test, kind, n_classes=n_classes, threads=2)
        outputs = []
        for rows in folds if family.bags_folds else []:  # fit gives the others none
            estimator = family.build(member.params, context)
            family.fit(estimator, X.iloc[rows] if hasattr(X, "iloc") else X[rows], y_train[rows])
            outputs.append(family.predict(estimator, X_test, kind, n_classes=n_classes, threads=2))
        bagged = np.mean(outputs, axis=0) if outputs else whole
        blends["all rows"] = blends["all rows"] + member.weight * whole
        blends["fold models"] = blends["fold models"] + member.weight * bagged
        blends["both"] = blends["both"] + member.weight * ((bagged * FOLDS + whole) / (FOLDS + 1) if outputs else whole)
    calibrate = (lambda p: p) if model.calibrator is None else model.calibrator.apply
    scores = {k: score(calibrate(np.asarray(v)), y_test, classes) for k, v in blends.items()}
    metric = "roc_auc" if classes and len(classes) == 2 else ("log_loss" if classes else "rmse")
    better = (scores["both"] > scores["all rows"]) if metric == "roc_auc" else (scores["both"] < scores["all rows"])
    return {"dataset": name, "rows": len(train) + len(test), "metric": metric, **scores, "better": better,
            "members": len(model.members), "seconds": time.perf_counter() - started}


def render(results: list[dict[str, object]]) -> str:
    lines = ["## Fold models: members refitted on all rows, or averaged with their fold models "
             "(`benchmarks/fold_models.py`)", "",
             f"Written by `benchmarks/fold_models.py` on {time.strftime('%Y-%m-%d')}, from the models and splits of "
             "the last `benchmarks/automl.py` run (60 s fits). Every member of each ensemble, with the weights the "
             f"search gave it, is scored on the test rows as fitted on all training rows, as the mean of {FOLDS} "
             "models of its parameters fitted on each fold's training rows (through its all-row preprocessing), "
             "and as the mean of both (what `fit` does); only boosters and networks get fold models, as in `fit`. "
             "Each of these is one fit per model, so small test sets move with the seed.", "",
             "| dataset | rows | metric | all rows | fold models | both | both better | members |",
             "|---|---:|---|---:|---:|---:|---|---:|"]
    for r in results:
        lines.append(f"| {r['dataset']} | {r['rows']:,} | {r['metric']} | {r['all rows']:.4f} | {r['fold models']:.4f} "
                     f"| {r['both']:.4f} | {'yes' if r['better'] else 'no'} | {r['members']} |")
    wins = sum(bool(r["better"]) for r in results)
    lines += ["", f"Both better than all rows alone on {wins} of {len(results)} sets."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", help="comma-separated; default every set automl.py left a model for")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    names = args.datasets.split(",") if args.datasets else sorted(
        p.parent.parent.name for p in WORK.glob("*/labcoat/model"))
    results = []
    warnings.simplefilter("ignore")
    for name in names:
        found = study(name)
        if found is None:
            print(f"{name:26s} skipped (more than {BAG_MAX_ROWS:,} training rows)", flush=True)
            continue
        print(f"{name:26s} {found['metric']:8s} all rows {found['all rows']:.4f}  fold models "
              f"{found['fold models']:.4f}  both {found['both']:.4f}  ({found['seconds']:.0f} s)", flush=True)
        results.append(found)
    write_section("fold_models", render(results), args.out)


if __name__ == "__main__":
    main()
