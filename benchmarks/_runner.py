"""Fit one AutoML system on one prepared split and write its figures; runs inside that system's venv.

Called by ``benchmarks/automl.py`` as::

    python _runner.py SYSTEM WORKDIR BUDGET

``WORKDIR`` holds ``train.csv``, ``test.csv`` and ``task.json`` (target, task, metric). The runner
writes ``WORKDIR/SYSTEM/predictions.csv`` (class probabilities, or predictions for regression) and
``WORKDIR/SYSTEM/timings.json``. Scoring happens in the parent so every system is scored by the
same code. This file imports only the standard library, pandas and the system under test.
"""
from __future__ import annotations

import json
import pickle
import shutil
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

LATENCY_CALLS = 200
FIT_DONE = "fit_done"
FIT_END: list[float] = []


def fit_labcoat(train: pd.DataFrame, task: dict, budget: float, out: Path):
    import labcoat

    model = labcoat.fit(train, target=task["target"], budget=budget, metric=task["metric"],
                        task=task["task"], seed=0, quiet=True)
    fitted(out)
    model.save(out / "model")
    return labcoat.load(out / "model"), labcoat.__version__


def fit_flaml(train: pd.DataFrame, task: dict, budget: float, out: Path):
    import flaml
    from flaml import AutoML

    metric = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "rmse"}[task["metric"]]
    automl = AutoML()
    X, y = train.drop(columns=[task["target"]]), train[task["target"]]
    automl.fit(X, y, task="regression" if task["task"] == "regression" else "classification",
               metric=metric, time_budget=budget, seed=0, verbose=0)
    fitted(out)
    path = out / "automl.pkl"
    path.write_bytes(pickle.dumps(automl))
    return pickle.loads(path.read_bytes()), flaml.__version__


def fit_autogluon(train: pd.DataFrame, task: dict, budget: float, out: Path):
    import autogluon.tabular
    from autogluon.tabular import TabularPredictor

    metric = {"roc_auc": "roc_auc", "log_loss": "log_loss",
              "rmse": "root_mean_squared_error"}[task["metric"]]
    predictor = TabularPredictor(label=task["target"], problem_type=task["task"], eval_metric=metric,
                                 path=str(out / "ag"), verbosity=0)
    predictor.fit(train, time_limit=budget, presets="medium_quality")
    fitted(out)
    loaded = TabularPredictor.load(str(out / "ag"), verbosity=0)
    loaded.persist()  # AutoGluon's advice for online inference: keep models in memory
    return loaded, autogluon.tabular.__version__


def fitted(out: Path) -> None:
    """Mark the end of the fit call: its time, and for the parent, the end of the fit's memory peak."""
    FIT_END.append(time.perf_counter())
    (out / FIT_DONE).touch()


FITTERS = {"labcoat": fit_labcoat, "flaml": fit_flaml, "autogluon": fit_autogluon}


def predict(system: str, model, X: pd.DataFrame, task: dict) -> pd.DataFrame:
    """Probabilities (one column per class label, as text) or a ``prediction`` column."""
    if task["task"] == "regression":
        return pd.DataFrame({"prediction": pd.Series(model.predict(X)).to_numpy(dtype=float)})
    proba = model.predict_proba(X)
    if isinstance(proba, pd.DataFrame):  # AutoGluon
        return proba.set_axis([str(c) for c in proba.columns], axis=1).reset_index(drop=True)
    classes = model.classes_
    return pd.DataFrame(proba, columns=[str(c) for c in classes])


def main(system: str, workdir: Path, budget: float) -> None:
    task = json.loads((workdir / "task.json").read_text())
    read = dict(keep_default_na=True, low_memory=False)
    train = pd.read_csv(workdir / "train.csv", **read)
    test = pd.read_csv(workdir / "test.csv", **read).drop(columns=[task["target"]])
    out = workdir / system
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    started = time.perf_counter()
    model, version = FITTERS[system](train, task, budget, out)
    fit_seconds = FIT_END[0] - started  # the fit call only: saving and reloading excluded

    started = time.perf_counter()
    predictions = predict(system, model, test, task)
    predict_seconds = time.perf_counter() - started
    predictions.to_csv(out / "predictions.csv", index=False)

    rows = [test.iloc[[i % len(test)]] for i in range(LATENCY_CALLS)]
    for row in rows[:5]:  # warm-up: first calls pay for lazy imports and caches
        predict(system, model, row, task)
    latencies = []
    for row in rows:
        started = time.perf_counter()
        predict(system, model, row, task)
        latencies.append(time.perf_counter() - started)

    (out / "timings.json").write_text(json.dumps({
        "version": version, "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
        "latency_ms": 1000 * statistics.median(latencies),
        "latency_p95_ms": 1000 * statistics.quantiles(latencies, n=20)[-1]}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]))
