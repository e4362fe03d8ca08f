"""labcoat against FLAML and AutoGluon: same split, same budget, same cores, one run.

Usage (``make bench`` runs the first)::

    python benchmarks/automl.py                       # every dataset, 60 s each, all systems
    python benchmarks/automl.py --budget 10 --datasets titanic,wine --systems labcoat,flaml
    python benchmarks/automl.py --groups sklearn,generated

The datasets come in three groups, each ranked on its own so that overfitting to one suite
shows: ``shared`` (the CSVs in ``../shared/datasets/tabular``), ``sklearn`` (scikit-learn's
bundled tables) and ``generated`` (drawn here from fixed seeds: many classes, rare classes,
categorical interactions, Friedman's function). A task's mean rank is reported too.

Each dataset is split 75/25 (seed 0, stratified for classification) once; every system fits the
same ``train.csv`` in its own process and its own virtual environment (the peers' pins conflict
with each other and with labcoat's), from the versions in ``pyproject.toml``'s ``bench`` extra.
This parent scores every system's test predictions with scikit-learn and samples each child's
process tree for peak resident memory. Figures go to stdout and ``benchmarks/RESULTS.md``;
per-run results are kept under ``benchmarks/.work/`` so ``--resume`` skips finished runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets as sk_datasets
from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error
from sklearn.model_selection import train_test_split

from _results import cpu_name, write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "datasets" / "tabular"
WORK = HERE / ".work"
VENVS = HERE / ".venvs"
SYSTEMS = ("labcoat", "flaml", "autogluon")
#: Issue 14: the median single-row predict of a loaded model, every set, ensembles included.
LATENCY_TARGET_MS = 1.0
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}
# What each peer's venv needs before its bench requirement: a CPU build of PyTorch for AutoGluon's
# neural networks (PyPI's default torch wheel is a CUDA build of several GB).
PRE_INSTALL = {"autogluon": ["torch==2.13.0"]}


@dataclass(frozen=True)
class Dataset:
    name: str
    target: str
    task: str
    drop: tuple[str, ...] = ()
    why_drop: str = ""
    source: str = "shared"  # "shared" CSV, "sklearn" bundled loader or "generated" here


DATASETS = [
    Dataset("adult", "income", "binary"),
    Dataset("credit_g", "class", "binary"),
    Dataset("mammography", "class", "binary"),
    Dataset("phoneme", "class", "binary"),
    Dataset("titanic", "survived", "binary", drop=("alive",),
            why_drop="`alive` is the target in words"),
    Dataset("hypothyroid", "Class", "multiclass"),
    Dataset("penguins", "species", "multiclass"),
    Dataset("abalone", "rings", "regression"),
    Dataset("wine_quality_white", "quality", "regression"),
    Dataset("taxis", "tip", "regression", drop=("total",),
            why_drop="`total` = fare + tip + tolls gives the target away"),
    Dataset("mpg", "mpg", "regression"),
    Dataset("tips", "tip", "regression"),
    Dataset("breast_cancer", "target", "binary", source="sklearn"),
    Dataset("wine", "target", "multiclass", source="sklearn"),
    Dataset("iris", "target", "multiclass", source="sklearn"),
    Dataset("digits", "target", "multiclass", source="sklearn"),
    Dataset("diabetes", "target", "regression", source="sklearn"),
    Dataset("gen_binary_noisy", "y", "binary", source="generated"),
    Dataset("gen_many_classes", "y", "multiclass", source="generated"),
    Dataset("gen_rare_classes", "y", "multiclass", source="generated"),
    Dataset("gen_categorical_classes", "y", "multiclass", source="generated"),
    Dataset("gen_friedman", "y", "regression", source="generated"),
    Dataset("gen_categorical_regression", "y", "regression", source="generated"),
]
GROUPS = ("shared", "sklearn", "generated")


@dataclass
class Run:
    dataset: str
    system: str
    status: str = "ok"
    metric: str = ""
    score: float = float("nan")
    fit_seconds: float = float("nan")
    predict_seconds: float = float("nan")
    latency_ms: float = float("nan")
    latency_p95_ms: float = float("nan")
    peak_rss_mb: float = float("nan")
    fit_rss_mb: float = float("nan")
    version: str = ""
    error: str = ""
    extra: dict = field(default_factory=dict)


def generated(name: str) -> pd.DataFrame:
    """The generated tables, each from a fixed seed (the same table on every machine)."""
    if name == "gen_binary_noisy":  # 5% flipped labels, redundant and useless columns
        X, y = sk_datasets.make_classification(3000, 20, n_informative=6, n_redundant=4, flip_y=0.05,
                                               class_sep=0.8, random_state=11)
    elif name == "gen_many_classes":  # 12 classes, 4,000 rows: about 250 per class
        X, y = sk_datasets.make_classification(4000, 16, n_informative=10, n_classes=12,
                                               n_clusters_per_class=1, random_state=12)
    elif name == "gen_rare_classes":  # 5 classes, the rarest 1% (about 37 training rows)
        X, y = sk_datasets.make_classification(5000, 12, n_informative=8, n_classes=5, n_clusters_per_class=2,
                                               weights=[0.6, 0.25, 0.1, 0.04, 0.01], random_state=13)
    elif name == "gen_friedman":
        X, y = sk_datasets.make_friedman1(2000, n_features=10, noise=1.0, random_state=14)
    else:
        return _categorical(name)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["y"] = [f"c{v}" for v in y] if name != "gen_friedman" else y
    return frame


def _categorical(name: str) -> pd.DataFrame:
    """Categorical columns whose combinations matter, numbers, missing values."""
    rng = np.random.default_rng(15 if name == "gen_categorical_classes" else 16)
    n = 3000
    region = rng.choice([f"r{i}" for i in range(8)], n)
    product = rng.choice([f"p{i}" for i in range(15)], n)
    channel = rng.choice(["web", "store", "phone"], n, p=[0.5, 0.35, 0.15])
    amount, age = rng.lognormal(3, 0.8, n), rng.uniform(18, 80, n)
    effect = dict(zip(np.unique(product), rng.normal(0, 1, 15)))
    signal = (np.array([effect[p] for p in product]) * np.where(channel == "web", 1.5, -0.5)
              + 0.5 * np.log(amount) + 0.02 * (age - 50) + np.isin(region, ["r1", "r5"]) * 0.8)
    frame = pd.DataFrame({"region": region, "product": product, "channel": channel,
                          "amount": amount, "age": age.round()})
    frame.loc[rng.random(n) < 0.1, "amount"] = np.nan
    noisy = signal + rng.normal(0, 0.7, n)
    if name == "gen_categorical_classes":
        frame["y"] = pd.cut(noisy, [-np.inf, *np.quantile(noisy, [0.3, 0.6, 0.85]), np.inf],
                            labels=["low", "mid", "high", "top"]).astype(str)
    else:
        frame["y"] = noisy * 10 + 100
    return frame


def load(dataset: Dataset) -> pd.DataFrame:
    if dataset.source == "sklearn":
        bunch = getattr(sk_datasets, f"load_{dataset.name}")(as_frame=True)
        return bunch.frame
    if dataset.source == "generated":
        return generated(dataset.name)
    frame = pd.read_csv(SHARED / f"{dataset.name}.csv", low_memory=False)
    return frame.drop(columns=list(dataset.drop))


def prepare(dataset: Dataset) -> Path:
    """Write the shared 75/25 split once; every system reads the same two files."""
    workdir = WORK / dataset.name
    if (workdir / "task.json").exists():
        return workdir
    frame = load(dataset)
    frame = frame[frame[dataset.target].notna()]
    stratify = frame[dataset.target] if dataset.task != "regression" else None
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=stratify)
    workdir.mkdir(parents=True, exist_ok=True)
    train.to_csv(workdir / "train.csv", index=False)
    test.to_csv(workdir / "test.csv", index=False)
    (workdir / "task.json").write_text(json.dumps({
        "target": dataset.target, "task": dataset.task, "metric": DEFAULT_METRIC[dataset.task],
        "train_rows": len(train), "test_rows": len(test), "columns": frame.shape[1] - 1,
        "train_mb": train.memory_usage(deep=True).sum() / 2**20}))
    return workdir


def bench_requirements() -> dict[str, str]:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = {}
    for requirement in extra["bench"]:
        for system in SYSTEMS:
            if requirement.lower().startswith(system.replace("autogluon", "autogluon.tabular")):
                named[system] = requirement
    return named


def labcoat_commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def labcoat_python() -> Path:
    """A venv with labcoat and its torch extra installed (not editable) from the last commit, so
    edits made while the benchmark runs cannot change what it measures; reinstalled when HEAD
    moves."""
    venv, commit = VENVS / "labcoat", labcoat_commit()
    python, stamp = venv / "bin" / "python", venv / ".installed"
    if stamp.exists() and stamp.read_text() == commit:
        return python
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        print("note: uncommitted changes are not benchmarked; labcoat is installed from "
              f"commit {commit[:10]}", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    source = WORK / "labcoat-src"
    subprocess.run(["rm", "-rf", str(source)], check=True)
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
                    str(source)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{source}[torch]"], check=True)
    stamp.write_text(commit)
    return python


def python_for(system: str) -> Path:
    """The interpreter a system runs under, each in a venv of its own, made on first use."""
    if system == "labcoat":
        return labcoat_python()
    venv = VENVS / system
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists():
        print(f"creating {venv} (first run only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run(pip + ["--upgrade", "pip"], check=True)
        if PRE_INSTALL.get(system):
            subprocess.run(pip + PRE_INSTALL[system], check=True)
        subprocess.run(pip + [bench_requirements()[system], "psutil"], check=True)
        stamp.touch()
    return python


def process_tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants, read from /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_system(system: str, workdir: Path, budget: float) -> Run:
    task = json.loads((workdir / "task.json").read_text())
    run = Run(workdir.name, system, metric=task["metric"])
    command = [str(python_for(system)), str(HERE / "_runner.py"), system, str(workdir), str(budget)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    log = (workdir / f"{system}.log").open("w")
    # cwd: peers write scratch files there (FLAML's CatBoost a catboost_<time>/ folder).
    child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    peak, fit_peak, deadline = 0, 0, time.monotonic() + 3 * budget + 600
    fit_done = workdir / system / "fit_done"
    fit_done.unlink(missing_ok=True)
    while child.poll() is None:
        rss = process_tree_rss(child.pid)
        peak = max(peak, rss)
        if not fit_done.exists():
            fit_peak = peak
        if time.monotonic() > deadline:
            child.kill()
            run.status, run.error = "timeout", f"killed after {3 * budget + 600:.0f} s"
        time.sleep(0.2)
    log.close()
    run.peak_rss_mb, run.fit_rss_mb = peak / 2**20, fit_peak / 2**20
    if child.returncode != 0 and run.status == "ok":
        tail = (workdir / f"{system}.log").read_text().strip().splitlines()[-3:]
        run.status, run.error = "failed", " | ".join(tail)[-300:]
    if run.status != "ok":
        return run
    timings = json.loads((workdir / system / "timings.json").read_text())
    run.version = timings["version"]
    run.fit_seconds, run.predict_seconds = timings["fit_seconds"], timings["predict_seconds"]
    run.latency_ms = timings["latency_ms"]
    run.latency_p95_ms = timings.get("latency_p95_ms", float("nan"))
    run.score = score(workdir, system, task)
    return run


def score(workdir: Path, system: str, task: dict) -> float:
    y = pd.read_csv(workdir / "test.csv", usecols=[task["target"]], low_memory=False)[task["target"]]
    predictions = pd.read_csv(workdir / system / "predictions.csv")
    if task["task"] == "regression":
        return float(root_mean_squared_error(y, predictions["prediction"]))
    labels = sorted(pd.read_csv(workdir / "train.csv", usecols=[task["target"]])[task["target"]]
                    .astype(str).unique())
    y = y.astype(str)
    proba = predictions.reindex(columns=labels, fill_value=0.0).to_numpy(dtype=float)
    if task["task"] == "binary":
        return float(roc_auc_score(y == labels[1], proba[:, 1]))
    proba = np.clip(proba, 1e-15, 1)
    return float(log_loss(y, proba / proba.sum(axis=1, keepdims=True), labels=labels))


def import_seconds(statement: str = "import labcoat", repeats: int = 5) -> float:
    """Median wall time of ``statement`` in a fresh interpreter of the benchmarked labcoat."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = [float(subprocess.run([str(labcoat_python()), "-c", code], capture_output=True,
                                  text=True, check=True).stdout) for _ in range(repeats)]
    return float(np.median(times))


# ---------------------------------------------------------------------------------------------
# Report


def ranks(runs: list[Run]) -> pd.DataFrame:
    """Rank of each system per dataset by test metric (1 = best; a failed run ranks last)."""
    table = pd.DataFrame([{"dataset": r.dataset, "system": r.system, "score": r.score,
                           "metric": r.metric} for r in runs])
    signed = table.apply(lambda r: -r.score if HIGHER_IS_BETTER[r.metric] else r.score, axis=1)
    table["loss"] = signed.fillna(np.inf)
    table["rank"] = table.groupby("dataset")["loss"].rank(method="average")
    return table.pivot(index="dataset", columns="system", values="rank")


def shortfalls(runs: list[Run], budget: float) -> list[str]:
    """Where labcoat misses a target of issue 2, in words."""
    notes = []
    by_dataset: dict[str, dict[str, Run]] = {}
    for run in runs:
        by_dataset.setdefault(run.dataset, {})[run.system] = run
    for name, systems in by_dataset.items():
        ours = systems.get("labcoat")
        if ours is None or ours.status != "ok":
            notes.append(f"{name}: labcoat {ours.status if ours else 'not run'}")
            continue
        peers = [r for s, r in systems.items() if s != "labcoat" and r.status == "ok"]
        if peers:
            if HIGHER_IS_BETTER[ours.metric]:
                best = max(r.score for r in peers)
                if ours.score < best - 0.01:
                    notes.append(f"{name}: ROC AUC {ours.score:.4f} vs best peer {best:.4f}")
            else:
                best = min(r.score for r in peers)
                if ours.score > best * 1.02:
                    notes.append(f"{name}: {ours.metric} {ours.score:.4f} is "
                                 f"{100 * (ours.score / best - 1):.1f}% above best peer {best:.4f}")
        if ours.fit_seconds > 1.05 * budget:
            notes.append(f"{name}: fit took {ours.fit_seconds:.1f} s > budget + 5%")
        if ours.latency_ms > LATENCY_TARGET_MS:
            notes.append(f"{name}: single-row latency {ours.latency_ms:.2f} ms > {LATENCY_TARGET_MS:g} ms")
        train_mb = json.loads((WORK / name / "task.json").read_text())["train_mb"]
        if ours.fit_rss_mb > 3 * train_mb + 600:
            notes.append(f"{name}: fit peak RSS {ours.fit_rss_mb:.0f} MB > 3 x {train_mb:.0f} MB + 600 MB")
    return notes


def rank_row(label: str, table: pd.DataFrame, systems: list[str]) -> str:
    """A table row of each system's mean rank (and wins) over the datasets of ``table``."""
    mean_rank, wins = table.mean(), (table == 1).sum()
    return (f"| {label} | | | " + " | ".join(
        (f"**{mean_rank[s]:.2f}**" if mean_rank[s] == mean_rank.min() else f"{mean_rank[s]:.2f}")
        + f" ({wins.get(s, 0)})" for s in systems) + " | | | | | |")


def render(runs: list[Run], budget: float, import_s: tuple[float, float], reused: dict[str, set[str]] | None = None,
           title: str = "") -> str:
    systems = [s for s in SYSTEMS if any(r.system == s for r in runs)]
    versions = {r.system: r.version for r in runs if r.version}
    rank_table = ranks(runs)
    cpu = cpu_name()
    lines = [
        f"## AutoML: labcoat vs FLAML vs AutoGluon{title} (`benchmarks/automl.py`)", "",
        f"Written by `benchmarks/automl.py` on {date.today().isoformat()}. Budget {budget:g} s per "
        f"fit; {os.cpu_count()} cores ({cpu}); Python {platform.python_version()}. Same 75/25 split "
        "(seed 0, stratified for classification), each system in its own process and venv, with its "
        "defaults otherwise (labcoat with its `torch` extra, which brings the MLP family into its "
        "search as AutoGluon's own dependencies bring its neural networks; FLAML "
        "`AutoML.fit(time_budget=...)`, AutoGluon "
        "`TabularPredictor.fit(time_limit=..., presets='medium_quality')` then `persist()`).", "",
        "Versions: " + ", ".join(f"{s} {versions.get(s, '?')}" for s in systems)
        + f" (labcoat at commit {labcoat_commit()[:10]}).", "",
        *([("Runs reused from earlier invocations (`--resume`, same machine and budget), by the date "
            "they were written: " + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in sorted(reused.items()))
            + "."), ""] if reused else []),
        "Metric: ROC AUC for binary (higher is better), log loss for multiclass and RMSE for "
        "regression (lower is better), on the 25% test rows. Fit = wall seconds of the fit call; "
        "predict = whole test set; 1-row = median (p50) and 95th percentile (p95) of 200 single-row "
        "calls on the saved and reloaded model (`benchmarks/latency.py` times labcoat's step by step); "
        "fit peak RSS = peak resident memory of the system's whole process tree until the fit "
        "call returned (the peak of the whole run, reload and predictions included, is in "
        "`benchmarks/.work/DATASET/SYSTEM.result.json`).", "",
        "| dataset | rows | metric | " + " | ".join(systems) + " | fit s | predict s | 1-row p50 ms | "
        "1-row p95 ms | fit peak RSS MB |",
        "|---|---:|---|" + "---:|" * len(systems) + "---|---|---|---|---|",
    ]
    by_key = {(r.dataset, r.system): r for r in runs}
    for dataset in dict.fromkeys(r.dataset for r in runs):
        task = json.loads((WORK / dataset / "task.json").read_text())
        cells = []
        for system in systems:
            run = by_key.get((dataset, system))
            text = "—" if run is None else (f"{run.score:.4f}" if run.status == "ok" else run.status)
            if run is not None and rank_table.loc[dataset].get(system) == rank_table.loc[dataset].min():
                text = f"**{text}**"
            cells.append(text)

        def per_system(attribute: str, fmt: str) -> str:
            return " / ".join(fmt.format(getattr(by_key[(dataset, s)], attribute))
                              if (dataset, s) in by_key else "—" for s in systems)
        lines.append(f"| {dataset} | {task['train_rows'] + task['test_rows']:,} | {task['metric']} | "
                     + " | ".join(cells) + f" | {per_system('fit_seconds', '{:.1f}')} | "
                     f"{per_system('predict_seconds', '{:.2f}')} | {per_system('latency_ms', '{:.2f}')} | "
                     f"{per_system('latency_p95_ms', '{:.2f}')} | "
                     f"{per_system('fit_rss_mb', '{:.0f}')} |")
    lines += [rank_row("**mean rank** (wins), all", rank_table, systems)]
    source = {d.name: d.source for d in DATASETS}
    kind = {d.name: d.task for d in DATASETS}
    for label, names in [*((f"group {g}", [n for n in rank_table.index if source.get(n) == g]) for g in GROUPS),
                         *((f"task {t}", [n for n in rank_table.index if kind.get(n) == t])
                           for t in DEFAULT_METRIC)]:
        if names:
            lines.append(rank_row(f"mean rank, {label} ({len(names)})", rank_table.loc[names], systems))
    lines += ["",
        f"Timing, latency and memory columns list {' / '.join(systems)} in that order. "
        f"`import labcoat`: {import_s[0]:.2f} s; `from labcoat.train import fit`, which loads the "
        f"model libraries: {import_s[1]:.2f} s (medians of 5 fresh interpreters).", "",
        "Dropped columns: " + "; ".join(f"{d.name} `{', '.join(d.drop)}` ({d.why_drop})"
                                       for d in DATASETS if d.drop) + ".", "",
        "### Where labcoat misses a target", "",
    ]
    notes = shortfalls(runs, budget)
    lines += [f"- {note}" for note in notes] or ["- none"]
    failed = [r for r in runs if r.status != "ok"]
    if failed:
        lines += ["", "### Failed runs", ""] + [f"- {r.dataset} / {r.system}: {r.status}: {r.error}"
                                               for r in failed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per fit (default 60)")
    parser.add_argument("--datasets", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated subset of {', '.join(GROUPS)}")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    parser.add_argument("--resume", action="store_true", help="reuse finished runs in .work/")
    parser.add_argument("--section", default="automl",
                        help="RESULTS.md section to write (another name keeps the full run's table)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    wanted = set(args.datasets.split(",")) - {""}
    unknown = wanted - {d.name for d in DATASETS}
    if unknown:
        parser.error(f"unknown dataset(s) {sorted(unknown)}; choose from {[d.name for d in DATASETS]}")
    groups = set(args.groups.split(",")) - {""}
    if groups - set(GROUPS):
        parser.error(f"unknown group(s) {sorted(groups - set(GROUPS))}; choose from {list(GROUPS)}")
    chosen = [d for d in DATASETS if (not wanted or d.name in wanted) and d.source in groups]
    systems = [s for s in SYSTEMS if s in args.systems.split(",")]
    for system in systems:
        python_for(system)

    runs: list[Run] = []
    reused: dict[str, set[str]] = {}
    import_s = import_seconds(), import_seconds("from labcoat.train import fit")
    for dataset in chosen:
        if dataset.source == "shared" and not (SHARED / f"{dataset.name}.csv").exists():
            print(f"skip {dataset.name}: {SHARED} not found", flush=True)
            continue
        workdir = prepare(dataset)
        for system in systems:
            saved = workdir / f"{system}.result.json"
            if args.resume and saved.exists() and json.loads(saved.read_text())["extra"].get(
                    "budget") == args.budget:
                run = Run(**json.loads(saved.read_text()))
                written = date.fromtimestamp(saved.stat().st_mtime).isoformat()
                reused.setdefault(f"{system} ({written})", set()).add(dataset.name)
            else:
                run = run_system(system, workdir, args.budget)
                run.extra["budget"] = args.budget
                saved.write_text(json.dumps(run.__dict__))
            runs.append(run)
            print(f"{dataset.name:20s} {system:10s} {run.status:7s} {run.metric} {run.score:.4f}  "
                  f"fit {run.fit_seconds:6.1f} s  predict {run.predict_seconds:6.2f} s  "
                  f"1-row p50 {run.latency_ms:6.2f} ms p95 {run.latency_p95_ms:6.2f} ms  RSS fit {run.fit_rss_mb:5.0f} MB, "
                  f"all {run.peak_rss_mb:5.0f} MB", flush=True)
            title = "" if args.section == "automl" else f", {len({r.dataset for r in runs})} chosen sets"
            write_section(args.section, render(runs, args.budget, import_s, reused, title), args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
