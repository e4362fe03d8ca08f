"""Leaks found by their effect (``labcoat.guards_effect``): planted leaks and clean tables.

Usage::

    python benchmarks/leak_simulation.py                  # every set, seeds 0-4 (~10 min, 2 cores)
    python benchmarks/leak_simulation.py --seeds 5,6 --datasets titanic,wine --raw runs.csv

Over the AutoML benchmark's sets (``benchmarks/automl.py``: the shared tabular sets of
``../shared/datasets/tabular``, skipped when absent, scikit-learn's bundled ones and generated
ones), for each seed: the clean table, and the table
with one planted leak, a column ``leak`` that copies

* a class target (binary, multiclass), agreeing with it on 90%, 93%, 96% or 99% of rows (the
  other rows hold another class, drawn at random), as a category or as a number (the class's
  code plus noise), alternating by seed;
* a numeric target, as the target plus noise correlated with it at r = 0.95, 0.96, 0.97 or 0.99.

Each table goes through the check as ``fit`` runs it (``probe_effects`` with its time cap, then
``suspected``). A leak is *effective* when it lifts the probe's whole-model skill above the
clean table's (same rows, same folds) by more than the clean model's fold-to-fold standard
deviation: a leak that does nothing (the other columns already predict the target) cannot be
found by its effect, and is harmless. Detection is given among effective leaks, among
material ones (a lift of at least the rule's loss bar) and overall; false positives are clean
tables with any column flagged. The check runs with the time cap ``fit`` gives it at its default
budget. Figures go to stdout and
``benchmarks/RESULTS.md``; ``--raw`` also keeps one row per run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from _results import cpu_name, write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from automl import DATASETS, SHARED, Dataset, load  # noqa: E402

from labcoat import guards_effect  # noqa: E402
from labcoat.guards import check_data  # noqa: E402
from labcoat.search import Clock  # noqa: E402
from labcoat.train.budget import leak_check_seconds  # noqa: E402
from labcoat.train.pipeline import DEFAULT_BUDGET  # noqa: E402

AGREEMENT = (0.90, 0.93, 0.96, 0.99)
CORRELATION = (0.95, 0.96, 0.97, 0.99)
LEAK = "leak"


@dataclass
class Run:
    dataset: str
    task: str
    seed: int
    plant: str  # "clean", "category", "number" (class targets) or "noisy copy" (numbers)
    level: float  # agreement or correlation; 0 for the clean table
    rows: int
    full: float
    clean_full: float
    noise: float
    leak_alone: float | None
    leak_without: float | None
    leak_explained: float | None
    leak_share: float | None
    by_values: bool  # the value-by-value rule of labcoat.guards names the leak too
    seconds: float
    complete: bool
    effects: str  # every probed column: name, importance share, skill alone and without, explained

    def _effects(self) -> list[guards_effect.ColumnEffect]:
        return [guards_effect.ColumnEffect(*fields) for fields in json.loads(self.effects)]

    def flagged(self, bar: float = guards_effect.EXPLAINED_BAR) -> list[str]:
        """The columns the rule flags, with its bar on the share the other columns explain at ``bar``."""
        flags = []
        for effect in self._effects():
            shifted = None if effect.explained is None else effect.explained + guards_effect.EXPLAINED_BAR - bar
            if guards_effect.suspected(replace(effect, explained=shifted), self.full):
                flags.append(effect.column)
        return flags

    def dominant(self) -> list[str]:
        """The columns named dominant (low severity: strong inputs the others explain)."""
        return [e.column for e in self._effects() if guards_effect.dominant(e, self.full)]

    def found(self, bar: float = guards_effect.EXPLAINED_BAR) -> bool:
        return LEAK in self.flagged(bar)

    def others(self, bar: float = guards_effect.EXPLAINED_BAR) -> list[str]:
        return [c for c in self.flagged(bar) if c != LEAK]

    @property
    def lift(self) -> float:
        return self.full - self.clean_full

    @property
    def effective(self) -> bool:
        return self.lift > self.noise


def plant(frame: pd.DataFrame, dataset: Dataset, level: float, kind: str, rng: np.random.Generator) -> pd.DataFrame:
    """``frame`` with a column ``leak`` copying its target (see the module docstring)."""
    y = frame[dataset.target]
    if dataset.task == "regression":
        values = y.to_numpy(dtype=float)
        noise = rng.normal(0, values.std() * np.sqrt(1 / level**2 - 1), len(values))
        return frame.assign(**{LEAK: values + noise})
    codes, classes = pd.factorize(y)
    leak = codes.copy()
    wrong = rng.choice(len(y), int(round((1 - level) * len(y))), replace=False)
    shift = rng.integers(1, len(classes), len(wrong))  # another class, at random
    leak[wrong] = (codes[wrong] + shift) % len(classes)
    if kind == "category":
        return frame.assign(**{LEAK: [f"status {c}" for c in leak]})
    return frame.assign(**{LEAK: leak + rng.uniform(-0.3, 0.3, len(leak))})


def probe(frame: pd.DataFrame, dataset: Dataset, seed: int, seconds: float,
          measure_all: bool) -> guards_effect.Probe | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return guards_effect.probe_effects(frame, dataset.target, dataset.task, seed=seed, seconds=seconds,
                                           screen=not measure_all)


def run_one(frame: pd.DataFrame, dataset: Dataset, seed: int, plant_kind: str, level: float,
            clean: guards_effect.Probe | None, seconds: float, measure_all: bool) -> Run | None:
    result = probe(frame, dataset, seed, seconds, measure_all)
    if result is None:
        return None
    leak = next((e for e in result.columns if e.column == LEAK), None)
    by_values = False
    if LEAK in frame.columns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_values = any(f.check == "leakage" for f in check_data(frame[[LEAK, dataset.target]],
                                                                      dataset.target, dataset.task))
    base = clean or result
    return Run(dataset.name, dataset.task, seed, plant_kind, level, result.rows, result.full, base.full,
               float(np.std(base.full_folds, ddof=1)), leak.alone if leak else None,
               leak.without if leak else None, leak.explained if leak else None,
               leak.importance if leak else None, by_values, result.seconds, result.complete,
               json.dumps([[e.column, e.importance, e.alone, e.without, e.explained] for e in result.columns]))


def simulate(datasets: list[Dataset], seeds: list[int], seconds: float, measure_all: bool) -> list[Run]:
    runs: list[Run] = []
    for dataset in datasets:
        frame = load(dataset)
        frame = frame[frame[dataset.target].notna()].reset_index(drop=True)
        for seed in seeds:
            clean_probe = probe(frame, dataset, seed, seconds, measure_all)
            clean = run_one(frame, dataset, seed, "clean", 0.0, clean_probe, seconds, measure_all)
            if clean is None:
                print(f"{dataset.name}: too small to probe", flush=True)
                break
            runs.append(clean)
            rng = np.random.default_rng(1000 + seed)
            levels = CORRELATION if dataset.task == "regression" else AGREEMENT
            for i, level in enumerate(levels):
                kind = ("noisy copy" if dataset.task == "regression"
                        else ("category", "number")[(i + seed) % 2])
                planted = run_one(plant(frame, dataset, level, kind, rng), dataset, seed, kind, level,
                                  clean_probe, seconds, measure_all)
                if planted is not None:
                    runs.append(planted)
            done = [r for r in runs if r.dataset == dataset.name and r.seed == seed]
            print(f"{dataset.name} seed {seed}: clean flagged {done[0].flagged()}; leaks found "
                  f"{sum(r.found() for r in done[1:])}/{len(done) - 1} "
                  f"(effective {sum(r.effective for r in done[1:])}); "
                  f"{max(r.seconds for r in done):.1f} s at most", flush=True)
    return runs


def rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({hits / total:.0%})" if total else "–"


def render(runs: list[Run], seeds: list[int], seconds: float, elapsed: float) -> str:
    clean = [r for r in runs if r.plant == "clean"]
    planted = [r for r in runs if r.plant != "clean"]
    effective = [r for r in planted if r.effective]
    material = [r for r in planted if r.lift >= guards_effect.LOST_SKILL]
    commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    g = guards_effect
    flagged_clean = sorted({f"{r.dataset} `{c}`" for r in clean for c in r.flagged()})
    lines = [
        "## Leaks found by their effect (`benchmarks/leak_simulation.py`)",
        "",
        f"Written by `benchmarks/leak_simulation.py` on {date.today().isoformat()} (labcoat at commit "
        f"{commit}); seeds {', '.join(map(str, seeds))}; {os.cpu_count()} cores "
        f"({cpu_name()}); {elapsed / 60:.1f} min in all.",
        "",
        f"The rule (`labcoat.guards_effect.suspected`): on a probe of at most {g.PROBE_ROWS:,} rows "
        f"(as balanced between classes as the rows allow; {g.PROBE_FOLDS}-fold LightGBM, {g.ROUNDS} rounds, "
        f"one thread), among the {g.CANDIDATES} columns of highest permutation importance and the "
        f"{g.CANDIDATES} strongest by a binned one-column score, a column is flagged when alone it reaches "
        f"a skill of {g.ALONE_SKILL} and {g.ALONE_SHARE:.0%} of the whole model's, and the other columns "
        f"explain less than {g.EXPLAINED_BAR:.0%} of its variation beyond the target (the loss, log loss or "
        "squared error, of predicting it from the target alone that adding the other columns takes away; "
        "skill: 2·AUC − 1, macro one-vs-rest for several classes; R² for numbers). Time cap "
        f"{seconds:g} s per table, what `fit` allows at its default budget.",
        "",
        "Planted leaks: a class target copied as a category or a number agreeing with it on "
        f"{', '.join(f'{a:.0%}' for a in AGREEMENT)} of rows; a numeric target plus noise at r = "
        f"{', '.join(map(str, CORRELATION))}. *Effective*: the leak lifts the probe's whole-model skill "
        "by more than the clean model's fold-to-fold standard deviation; *material*: by at least "
        f"{g.LOST_SKILL} (ROC AUC +{g.LOST_SKILL / 2:g}, R² +{g.LOST_SKILL:g}).",
        "",
        f"- **Leaks found: {rate(sum(r.found() for r in planted), len(planted))} of all planted**; "
        f"{rate(sum(r.found() for r in effective), len(effective))} of the effective ones, "
        f"{rate(sum(r.found() for r in material), len(material))} of the material ones, "
        f"{rate(sum(r.found() for r in planted if not r.effective), len(planted) - len(effective))} of "
        "those that did nothing the probe could see (the other columns already predict the target).",
        f"- **Clean tables flagged: {rate(sum(bool(r.flagged()) for r in clean), len(clean))}**"
        + (": " + ", ".join(flagged_clean) if flagged_clean else "") + ".",
        "- Named a dominant column instead (low severity: strong alone, explained by the others, the model "
        f"loses {g.LOST_SKILL} without it), clean tables: "
        + (", ".join(sorted({f"{r.dataset} `{c}`" for r in clean for c in r.dominant()})) or "none")
        + f" ({sum(bool(r.dominant()) for r in clean)}/{len(clean)}).",
        f"- Planted tables with another column flagged as well: "
        f"{rate(sum(bool(r.others()) for r in planted), len(planted))}.",
        f"- Also named by the value-by-value rule (`labcoat.guards`): "
        f"{rate(sum(r.by_values for r in planted), len(planted))} of the planted leaks; found by "
        f"either: {rate(sum(r.found() or r.by_values for r in planted), len(planted))}.",
        f"- The check's time per table: median {np.median([r.seconds for r in runs]):.1f} s, "
        f"95th percentile {np.percentile([r.seconds for r in runs], 95):.1f} s, "
        f"max {max(r.seconds for r in runs):.1f} s; stopped by its time cap: "
        f"{sum(not r.complete for r in runs)} of {len(runs)}.",
        "- By seed (found among effective; clean tables flagged): " + "; ".join(
            f"{seed}: {rate(sum(r.found() for r in effective if r.seed == seed), sum(r.seed == seed for r in effective))}, "
            f"{sum(bool(r.flagged()) for r in clean if r.seed == seed)}/{sum(r.seed == seed for r in clean)}"
            for seed in seeds) + ".",
        "- The bar on the share explained decides the trade-off (same probes; found among all planted / "
        "clean tables flagged / planted tables with another column flagged): " + "; ".join(
            f"{bar:g}: {sum(r.found(bar) for r in planted) / max(len(planted), 1):.0%} / "
            f"{sum(bool(r.flagged(bar)) for r in clean) / max(len(clean), 1):.0%} / "
            f"{sum(bool(r.others(bar)) for r in planted)}"
            for bar in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)) + ".",
        "",
        "By level (found among effective / all planted):",
        "",
        "| plant | level | effective | overall |",
        "|---|---:|---:|---:|",
    ]
    for kind in sorted({r.plant for r in planted}):
        for level in sorted({r.level for r in planted if r.plant == kind}):
            these = [r for r in planted if r.plant == kind and r.level == level]
            eff = [r for r in these if r.effective]
            lines.append(f"| {kind} | {level:.2f} | {rate(sum(r.found() for r in eff), len(eff))} | "
                         f"{rate(sum(r.found() for r in these), len(these))} |")
    lines += [
        "",
        "| dataset | task | rows probed | clean skill | clean flagged | leaks found (effective) | "
        "leaks found (all) | ineffective leaks | median lift | s per table (median / max) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for name in dict.fromkeys(r.dataset for r in runs):
        mine = [r for r in runs if r.dataset == name]
        c = [r for r in mine if r.plant == "clean"]
        p = [r for r in mine if r.plant != "clean"]
        e = [r for r in p if r.effective]
        shown = ", ".join(sorted({f"`{x}`" for r in c for x in r.flagged()}))
        lines.append(
            f"| {name} | {mine[0].task} | {mine[0].rows:,} | {np.mean([r.full for r in c]):.3f} | "
            f"{sum(bool(r.flagged()) for r in c)}/{len(c)}{' ' + shown if shown else ''} | "
            f"{rate(sum(r.found() for r in e), len(e))} | {rate(sum(r.found() for r in p), len(p))} | "
            f"{len(p) - len(e)} | {np.median([r.lift for r in p]):.3f} | "
            f"{np.median([r.seconds for r in mine]):.1f} / {max(r.seconds for r in mine):.1f} |")
    missed = [r for r in planted if not r.found()]
    if missed:
        lines += ["", "Leaks missed, by set (the lift in skill; the clean model's skill):", ""]
        for name in dict.fromkeys(r.dataset for r in missed):
            mine = [r for r in missed if r.dataset == name]
            lifts = sorted(r.lift for r in mine)
            alone = [r.leak_alone for r in mine if r.leak_alone is not None]
            explained = [r.leak_explained for r in mine if r.leak_explained is not None]
            lines.append(f"- {name}: {len(mine)}, lifts {lifts[0]:.3f} to {lifts[-1]:.3f}; clean skill "
                         f"{min(r.clean_full for r in mine):.3f} to {max(r.clean_full for r in mine):.3f}; "
                         f"the leak alone {_span(alone)}, explained by the others {_span(explained)}, "
                         f"not a candidate {sum(r.leak_alone is None for r in mine)}"
                         + ("" if all(r.complete for r in mine) else " (some stopped by the time cap)"))
    return "\n".join(lines)


def _span(values: list[float]) -> str:
    return f"{min(values):.3f} to {max(values):.3f}" if values else "–"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds (default 0-4)")
    parser.add_argument("--datasets", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="the check's time cap (default: what fit allows at its default budget)")
    parser.add_argument("--raw", type=Path, help="also write one row per run to this CSV")
    parser.add_argument("--measure-all", action="store_true",
                        help="fit the model without every candidate column, not only the ones the rule "
                             "could flag (for designing the rule; slower)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    wanted = [d for d in args.datasets.split(",") if d]
    datasets = [d for d in DATASETS if (not wanted or d.name in wanted)
                and (d.source != "shared" or (SHARED / f"{d.name}.csv").exists())]
    skipped = [d.name for d in DATASETS if d.source == "shared" and not (SHARED / f"{d.name}.csv").exists()]
    if skipped:
        print(f"skipped (no {SHARED}): {', '.join(skipped)}", flush=True)
    seconds = args.seconds if args.seconds is not None else leak_check_seconds(Clock(DEFAULT_BUDGET))
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    runs = simulate(datasets, seeds, seconds, args.measure_all)
    if args.raw:
        pd.DataFrame([{**r.__dict__, "flagged": ",".join(r.flagged()), "lift": r.lift,
                       "effective": r.effective} for r in runs]).to_csv(args.raw, index=False)
    text = render(runs, seeds, seconds, time.perf_counter() - started)
    print(text)
    if not args.no_write:
        write_section("leak_simulation", text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
