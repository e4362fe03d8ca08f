"""Single-row prediction latency of saved and reloaded labcoat models, per benchmark set.

Usage::

    python benchmarks/latency.py                          # every set, models fitted once (60 s, as the AutoML benchmark)
    python benchmarks/latency.py --datasets adult,wine --stages
    python benchmarks/latency.py --refit --budget 60      # fit the models again
    python benchmarks/latency.py --automl-models           # the models benchmarks/automl.py saved
    python benchmarks/latency.py --latency-limit 1ms --datasets digits,credit_g   # fit with and without the limit

Each set of ``benchmarks/automl.py`` is split as there (75/25, seed 0); the first run fits labcoat
on the training rows within ``--budget`` seconds and saves the model to
``benchmarks/.work/DATASET/latency-model``; later runs reload that same model, so figures of
different commits are measured on the same ensembles. ``--automl-models`` reloads instead the
models of the last ``benchmarks/automl.py`` run (``benchmarks/.work/DATASET/labcoat/model``),
to time the current code on the ensembles of that table. Latency is timed as the AutoML benchmark
times it (``_runner.py``): ``predict_proba`` (classification) or ``predict`` (regression) of one
test row as a one-row DataFrame, 200 calls after 5 warm-up calls, on the model given by
``labcoat.load``. ``--stages`` also times each step of a call (schema, unseen-category check,
preprocessing per style, members predicted together, each other member, calibration, the
answer), with the same functions the model calls, each step on its own: in a real call the
steps evict each other's data from the caches and take up to twice as long. ``--latency-limit``
fits each set a second time with ``fit(latency_limit=...)`` (saved to ``latency-model-limited``)
and sets the two side by side: members, one row's time, and the score on the test rows. Figures
go to stdout, and with ``--out`` to ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import cpu_name, write_section  # noqa: E402
from automl import DATASETS, SHARED, WORK, Dataset, prepare  # noqa: E402
from labcoat.train.latency_limit import parse_latency  # noqa: E402

CALLS = 200
WARM_UP = 5
#: Issue 14's target for the median single-row call.
TARGET_MS = 1.0


def fitted_model(dataset: Dataset, budget: float, refit: bool, automl: bool = False,
                 limit: str | None = None) -> Any:
    """The set's saved latency model, fitted and saved first when missing (or ``refit``); with
    ``automl``, the model the AutoML benchmark saved; with ``limit``, one fitted with that
    ``latency_limit``."""
    import labcoat

    workdir = prepare(dataset)
    if automl:
        return labcoat.load(workdir / "labcoat" / "model")
    folder = workdir / ("latency-model" if limit is None else "latency-model-limited")
    if limit is not None and (folder / "MLmodel").exists():
        refit = refit or labcoat.load(folder).info.settings.get("latency_limit") != parse_latency(limit)
    if refit or not (folder / "MLmodel").exists():
        train = pd.read_csv(workdir / "train.csv", low_memory=False)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = labcoat.fit(train, target=dataset.target, task=dataset.task, budget=budget,
                                seed=0, quiet=True, track=False, report=False, latency_limit=limit)
        print(f"{dataset.name}: fitted in {time.perf_counter() - started:.0f} s", flush=True)
        model.save(folder)
    return labcoat.load(folder)


def test_rows(dataset: Dataset) -> list[pd.DataFrame]:
    test = pd.read_csv(WORK / dataset.name / "test.csv", low_memory=False).drop(columns=[dataset.target])
    return [test.iloc[[i % len(test)]] for i in range(CALLS)]


def timed(call: Callable[[pd.DataFrame], Any], rows: list[pd.DataFrame]) -> np.ndarray:
    """Seconds of ``call`` on each row, after the warm-up calls."""
    for row in rows[:WARM_UP]:
        call(row)
    seconds = []
    for row in rows:
        started = time.perf_counter()
        call(row)
        seconds.append(time.perf_counter() - started)
    return np.array(seconds)


def stage_times(model: Any, rows: list[pd.DataFrame]) -> dict[str, float]:
    """Median milliseconds of each step of one call, each timed on its own over ``rows``."""
    from labcoat.model import _as_frame

    stages: dict[str, float] = {}

    def median_ms(name: str, call: Callable[[], Any]) -> Any:
        for _ in range(WARM_UP):
            out = call()
        seconds = []
        for _ in range(len(rows)):
            started = time.perf_counter()
            out = call()
            seconds.append(time.perf_counter() - started)
        stages[name] = 1000 * statistics.median(seconds)
        return out

    # One row throughout (the steps depend little on which): the first test row.
    from labcoat.features.build import transform
    from labcoat.models import FAMILIES

    row = rows[0]
    frame = median_ms("schema", lambda: model.schema.prepare_columns(_as_frame(row)))
    median_ms("unseen check", lambda: model._notice_unseen(frame))
    inputs = {}
    for style, pre in model.preprocessors.items():
        inputs[style] = median_ms(f"preprocess {style}", lambda pre=pre: transform(pre, frame))
    n_classes = len(model.schema.classes or ())
    model._merged_output(inputs)  # builds the merged predictors (Family.merge)
    total, alone = 0.0, model.members
    for key, merged, together in model._merged:
        names = "+".join(m.family for m in together)
        total = total + median_ms(f"members {names} (merged)", lambda merged=merged, key=key: merged(inputs[key]))
        alone = [m for m in alone if all(m is not t for t in together)]
    for i, m in enumerate(alone):
        X = inputs[m.preprocessor or m.style]
        out = median_ms(f"member {m.family} #{m.trial}", lambda m=m, X=X: FAMILIES[m.family].predict(
            m.estimator, X, model.task.estimator_type, n_classes=n_classes, threads=1))
        total = total + m.weight * out
    if model.calibrator is not None:
        median_ms("calibrator", lambda: model.calibrator.apply(total))
    median_ms("decide", lambda: model.task.decide(total, model.schema.classes, model.threshold))
    return stages


def test_score(model: Any, dataset: Dataset) -> float:
    """The model's metric on the set's test rows."""
    from labcoat.evaluate.metrics import get_metric

    test = pd.read_csv(WORK / dataset.name / "test.csv", low_memory=False)
    y = model.task.encode_target(test[dataset.target], model.schema.classes)
    return get_metric(model.metric, model.task.name).score(y, model._blend(test.drop(columns=[dataset.target])))


def limit_rows(dataset: Dataset, budget: float, refit: bool, limit: str) -> list[dict[str, Any]]:
    """The set fitted without and with ``latency_limit=limit``: members, one row's median and
    95th percentile (``predict_proba``, or ``predict`` for regression), the test score."""
    out = []
    for given in (None, limit):
        model = fitted_model(dataset, budget, refit, limit=given)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call = model.predict if dataset.task == "regression" else model.predict_proba
            seconds = 1000 * timed(call, test_rows(dataset))
            score = test_score(model, dataset)
        out.append({"dataset": dataset.name, "limit": given or "none", "members": members(model),
                    "p50": float(np.median(seconds)), "p95": float(np.percentile(seconds, 95)),
                    "metric": model.metric, "test": score, "oof": model.info.ensemble_score,
                    "fit_latency": model.info.latency})
        print(f"{dataset.name:20s} limit {out[-1]['limit']:6s} p50 {out[-1]['p50']:6.2f} ms  {model.metric} test "
              f"{score:.4f} oof {model.info.ensemble_score:.4f}  [{out[-1]['members']}]", flush=True)
    return out


def render_limits(results: list[dict[str, Any]], budget: float, limit: str) -> str:
    lines = [
        "## Single-row latency with `latency_limit` (`benchmarks/latency.py --latency-limit`)", "",
        f"Written by `benchmarks/latency.py --latency-limit {limit}` on {date.today().isoformat()}; 2 cores shared "
        f"({cpu_name()}); Python {platform.python_version()}. Each set's 75% training split fitted twice within "
        f"{budget:g} s, seed 0: without a limit and with `latency_limit=\"{limit}\"`; saved, reloaded, {CALLS} calls "
        "of one test row each after the warm-up, and the metric on the 25% test rows (ROC AUC: higher is better; "
        "log loss, RMSE: lower). `fit` measured at fit time: one row's time as `fit` measured it before and after "
        "leaving members out.", "",
        "| dataset | limit | members | p50 ms | p95 ms | metric | test | out-of-fold | at fit: before -> after ms |",
        "|---|---|---|---:|---:|---|---:|---:|---|",
    ]
    for r in results:
        at_fit = r["fit_latency"]
        seen = f"{at_fit['before_ms']:.2f} -> {at_fit['after_ms']:.2f}" if at_fit else ""
        lines.append(f"| {r['dataset']} | {r['limit']} | {r['members']} | {r['p50']:.2f} | {r['p95']:.2f} | "
                     f"{r['metric']} | {r['test']:.4f} | {r['oof']:.4f} | {seen} |")
    return "\n".join(lines) + "\n"


def members(model: Any) -> str:
    return " + ".join(f"{m.family}×{m.weight:.2f}" for m in model.members)


def render(results: list[dict[str, Any]], budget: float, automl: bool) -> str:
    cpu = cpu_name()
    source = ("The models `benchmarks/automl.py` fitted on each set's 75% training split within "
              f"{budget:g} s and saved (the ensembles of its table)" if automl else
              f"Models fitted on each set's 75% training split within {budget:g} s, saved")
    lines = [
        "## Single-row latency (`benchmarks/latency.py`)", "",
        f"Written by `benchmarks/latency.py` on {date.today().isoformat()}; 2 cores shared ({cpu}); "
        f"Python {platform.python_version()}. {source} and reloaded with `labcoat.load`; "
        f"{CALLS} calls of one test "
        "row each (`predict_proba` for classification, `predict` for regression, as the AutoML "
        f"benchmark times them) after {WARM_UP} warm-up calls. Target: median ≤ {TARGET_MS:g} ms.", "",
        "| dataset | members | p50 ms | p95 ms | `predict` p50 ms | met |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(f"| {r['dataset']} | {r['members']} | {r['p50']:.2f} | {r['p95']:.2f} | "
                     f"{r['predict_p50']:.2f} | {'yes' if r['p50'] <= TARGET_MS else '**no**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per fit (default 60)")
    parser.add_argument("--refit", action="store_true", help="fit the models again")
    parser.add_argument("--stages", action="store_true", help="also time each step of a call")
    parser.add_argument("--automl-models", action="store_true",
                        help="reload the models of the last benchmarks/automl.py run instead")
    parser.add_argument("--latency-limit", default=None,
                        help="also fit with fit(latency_limit=...), e.g. 1ms, and compare (written as its own section)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the table to this RESULTS.md (default: print only)")
    args = parser.parse_args(argv)
    wanted = set(args.datasets.split(",")) - {""}
    results = []
    for dataset in DATASETS:
        if wanted and dataset.name not in wanted:
            continue
        if dataset.source == "shared" and not (SHARED / f"{dataset.name}.csv").exists():
            print(f"skip {dataset.name}: {SHARED} not found", flush=True)
            continue
        if args.latency_limit:
            results += limit_rows(dataset, args.budget, args.refit, args.latency_limit)
            continue
        model = fitted_model(dataset, args.budget, args.refit, args.automl_models)
        rows = test_rows(dataset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = model.predict if dataset.task == "regression" else model.predict_proba
            seconds = 1000 * timed(first, rows)
            decided = 1000 * timed(model.predict, rows)
            stages = stage_times(model, rows) if args.stages else {}
        result = {"dataset": dataset.name, "members": members(model),
                  "p50": float(np.median(seconds)), "p95": float(np.percentile(seconds, 95)),
                  "predict_p50": float(np.median(decided))}
        results.append(result)
        print(f"{dataset.name:20s} p50 {result['p50']:6.2f} ms  p95 {result['p95']:6.2f} ms  "
              f"predict {result['predict_p50']:6.2f} ms  [{result['members']}]", flush=True)
        for name, ms in stages.items():
            print(f"    {name:44s} {ms:7.3f} ms")
    if args.out is not None and args.latency_limit:
        write_section("latency_limit", render_limits(results, args.budget, args.latency_limit), args.out)
        print(f"\nwrote {args.out}")
    elif args.out is not None:
        write_section("latency", render(results, args.budget, args.automl_models), args.out)
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
