"""Does the mlp family help the ensemble? labcoat with and without it, on the same split.

Usage::

    python benchmarks/mlp.py                                # six sets, whole portfolios
    python benchmarks/mlp.py --datasets titanic,abalone --budget 60

Each dataset is split 75/25 (seed 0, stratified for classification) as ``benchmarks/automl.py``
splits it (the same files, under ``benchmarks/.work/``). labcoat fits the training rows twice,
in this process, seed 0, one thread: once with the default families, once with the default
families and ``mlp``. By default each run is its whole default portfolio (``trials=`` the
number of configurations, no clock), so the second run's trials are the first run's plus the
MLP's, with the same scores: the difference is what the MLP's trials do to the ensemble, free
of timing noise. With ``--budget`` both runs get that many seconds instead (on a busy machine
the trials each completes differ from run to run). Both are scored on the test rows (ROC AUC,
log loss or RMSE), with a paired bootstrap of the difference (``labcoat.evaluate.paired``);
the MLP's trials, their share of the search time and its ensemble weight are reported.
Figures go to stdout and ``benchmarks/RESULTS.md`` (section ``mlp``, or ``mlp_60s`` for
``--budget 60``); each set's are also kept
in ``benchmarks/.work/DATASET/SECTION.result.json``, which ``--resume`` reuses.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from _results import write_section
from automl import DATASETS, DEFAULT_METRIC, HERE, SHARED, WORK, labcoat_commit, prepare

#: Small and medium sets: the adult-size ones take most of a 60 s budget to fit one booster
#: on 2 cores, which leaves nothing to compare.
CHOSEN = ("credit_g", "phoneme", "titanic", "penguins", "abalone", "wine_quality_white")


@dataclass
class Arm:
    """One fit: its test score, predictions and what the search did."""

    score: float
    predictions: np.ndarray
    fit_seconds: float
    mlp_weight: float = 0.0
    mlp_trials: int = 0
    mlp_best: float = float("nan")
    best: float = float("nan")
    mlp_seconds: float = 0.0
    search_seconds: float = 0.0
    members: str = ""
    board: pd.DataFrame | None = None


def portfolio_size(families: list[str], task: str) -> int:
    from labcoat.models import FAMILIES

    kind = "regressor" if task == "regression" else "classifier"
    return sum(len(FAMILIES[name].portfolio(kind)) for name in families)


def fit_arm(train: pd.DataFrame, test: pd.DataFrame, target: str, metric: str, budget: float | None,
            families: list[str], task: str) -> tuple[Arm, np.ndarray]:
    """Fit on ``train``; score ``test``. Returns the arm and the encoded test labels."""
    import labcoat
    from labcoat.evaluate.metrics import get_metric

    size = dict(budget=budget) if budget else dict(trials=portfolio_size(families, task))
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = labcoat.fit(train, target, seed=0, metric=metric, families=families, n_jobs=1,
                            quiet=True, track=False, **size)
    seconds = time.monotonic() - started
    x = test.drop(columns=[target])
    if model.schema.classes is None:
        y, predictions = test[target].to_numpy(dtype=float), np.asarray(model.predict(x), dtype=float)
    else:
        labels = [str(c) for c in model.classes_]
        y = np.array([labels.index(str(v)) for v in test[target]])
        predictions = model.predict_proba(x)
    scored = get_metric(metric, model.task.name)
    board = model.leaderboard
    ok = board[board["status"] == "ok"]
    mlp = ok[ok["family"] == "mlp"]
    better = max if scored.greater_is_better else min
    arm = Arm(score=float(scored.score(y, predictions)), predictions=predictions, fit_seconds=seconds,
              mlp_weight=float(model.ensemble.loc[model.ensemble["family"] == "mlp", "weight"].sum()),
              mlp_trials=len(mlp), mlp_best=float(better(mlp["score"])) if len(mlp) else float("nan"),
              best=float(better(ok["score"])), mlp_seconds=float(board.loc[board["family"] == "mlp", "fit_time"].sum()),
              search_seconds=float(board["fit_time"].sum()), board=board,
              members=", ".join(f"{f} {w:.2f}" for f, w in model.ensemble.groupby("family")["weight"]
                                .sum().sort_values(ascending=False).items()))
    return arm, y


def compare(name: str, budget: float | None) -> dict:
    from labcoat.evaluate.metrics import get_metric
    from labcoat.evaluate.paired import paired_bootstrap
    from labcoat.models import default_families

    dataset = next(d for d in DATASETS if d.name == name)
    workdir = prepare(dataset)
    train, test = pd.read_csv(workdir / "train.csv"), pd.read_csv(workdir / "test.csv")
    metric = DEFAULT_METRIC[dataset.task]
    without, y = fit_arm(train, test, dataset.target, metric, budget, default_families(), dataset.task)
    with_mlp, _ = fit_arm(train, test, dataset.target, metric, budget, [*default_families(), "mlp"],
                          dataset.task)
    if not budget:  # the same configurations, the same scores: only the MLP's trials differ
        def scores(board: pd.DataFrame | None) -> list[float]:
            assert board is not None
            return sorted(board.loc[board["family"] != "mlp", "score"].round(10).tolist())
        assert scores(without.board) == scores(with_mlp.board), name
    paired = paired_bootstrap(y, with_mlp.predictions, without.predictions,
                              get_metric(metric, dataset.task), stratify=dataset.task != "regression")
    # Plain values only, so that a result can be kept in a JSON file (--resume).
    return {"dataset": name, "rows": len(train) + len(test), "metric": metric, "budget": budget,
            "commit": labcoat_commit(), "gain": paired.difference, "low": paired.low, "high": paired.high,
            **{f"{arm}_{key}": value for arm, result in (("without", without), ("with", with_mlp))
               for key, value in result.__dict__.items() if key not in ("predictions", "board")}}


def render(results: list[dict], budget: float | None) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import torch

    size = (f"a budget of {budget:g} s per fit" if budget else
            "each run its whole default portfolio (`trials=` its size, no clock: the run with the MLP "
            "has the other run's trials, with the same scores, plus the MLP's three)")
    lines = [
        f"## MLP: does the PyTorch family help the ensemble?{f' Within {budget:g} s' if budget else ''} "
        "(`benchmarks/mlp.py`)", "",
        f"Written by `benchmarks/mlp.py` on {date.today().isoformat()}: {size}; seed 0, one thread "
        f"(`n_jobs=1`); {os.cpu_count()} cores ({cpu}), shared with other jobs; torch "
        f"{torch.__version__}; labcoat at commit {', '.join(sorted({r['commit'][:10] for r in results}))}. "
        "Same 75/25 split as `benchmarks/automl.py`. Each set is fitted twice: "
        "the default families, then the default families and `mlp`. Test metric: ROC AUC (binary, "
        "higher is better), log loss (multiclass) or RMSE (regression; lower is better). Gain: how "
        "much better the run with the MLP is on the test rows (positive = better, in the metric's "
        "units), with its paired bootstrap 95% interval. MLP trials: completed trials of the family; "
        "CV: the best MLP trial's cross-validated score against the best trial of the search; MLP "
        "time: the MLP trials' share of the search's trial seconds.", "",
        "| dataset | rows | metric | without MLP | with MLP | gain [95% interval] | MLP weight | "
        "MLP trials | CV: best MLP / best | MLP time | fit s (without / with) | ensemble with MLP |",
        "|---|---:|---|---:|---:|---|---:|---:|---|---:|---|---|",
    ]
    for r in results:
        a, b = (SimpleNamespace(**{k.split("_", 1)[1]: v for k, v in r.items() if k.startswith(arm + "_")})
                for arm in ("without", "with"))
        lines.append(
            f"| {r['dataset']} | {r['rows']:,} | {r['metric']} | {a.score:.4f} | {b.score:.4f} | "
            f"{r['gain']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}] | {b.mlp_weight:.2f} | "
            f"{b.mlp_trials} | {b.mlp_best:.4f} / {b.best:.4f} | "
            f"{b.mlp_seconds:.0f} s of {b.search_seconds:.0f} s | {a.fit_seconds:.0f} / "
            f"{b.fit_seconds:.0f} | {b.members} |")
    better = sum(r["low"] > 0 for r in results)
    worse = sum(r["high"] < 0 for r in results)
    weighted = sum(r["with_mlp_weight"] > 0 for r in results)
    lines += ["", f"The MLP got ensemble weight on {weighted} of {len(results)} sets; the run with it "
              f"was better beyond its interval on {better}, worse beyond it on {worse}."]
    if budget:
        lines += ["", "Within a budget the two runs' other trials differ too (what completes in time "
                  "depends on the machine's load), so a gain where the MLP had no trial is that noise; "
                  "the family comes last in the portfolio and enters the search only when the budget "
                  "leaves it time."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per fit (default: no clock, each run its whole portfolio)")
    parser.add_argument("--datasets", default=",".join(CHOSEN), help="comma-separated subset")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the results kept in .work/DATASET/SECTION.result.json")
    args = parser.parse_args(argv)
    # Each mode has a section (and kept results) of its own: whole portfolios, and one per budget.
    section = f"mlp_{args.budget:g}s" if args.budget else "mlp"
    results = []
    for name in args.datasets.split(","):
        if not any(d.name == name for d in DATASETS):
            parser.error(f"unknown dataset {name!r}; choose from {[d.name for d in DATASETS]}")
        if not (SHARED / f"{name}.csv").exists() and next(d for d in DATASETS if d.name == name).source == "shared":
            print(f"skip {name}: {SHARED} not found", flush=True)
            continue
        kept = WORK / name / f"{section}.result.json"
        if args.resume and kept.exists() and json.loads(kept.read_text())["budget"] == args.budget:
            r = json.loads(kept.read_text())
        else:
            r = compare(name, args.budget)
            kept.write_text(json.dumps(r))
        results.append(r)
        print(f"{name:20s} {r['metric']:8s} without {r['without_score']:.4f}  with {r['with_score']:.4f}  "
              f"gain {r['gain']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]  MLP weight "
              f"{r['with_mlp_weight']:.2f} ({r['with_mlp_trials']} trials), commit {r['commit'][:10]}",
              flush=True)
        write_section(section, render(results, args.budget), args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
