"""Check that a refactoring changed no result: same leaderboards, bit-identical predictions.

Usage::

    python benchmarks/equivalence.py record before/           # on the old code
    python benchmarks/equivalence.py record after/            # on the new code
    python benchmarks/equivalence.py compare before/ after/   # exit 1 on any difference

``record`` fits every dataset of ``benchmarks/automl.py`` (the shared tabular ones and
scikit-learn's bundled ones) with a fixed trial count and seed, no time budget and one thread,
so the result depends on the code and the data only; it keeps each leaderboard (without its
timings) and the model's ``predict_frame`` on the training rows. ``compare`` requires the
same leaderboard values and the same prediction bits, column by column.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from automl import DATASETS, SHARED, load  # noqa: E402

#: Leaderboard columns that measure time, not results.
TIMINGS = ("fit_time", "fit_seconds", "seconds", "duration", "fold_seconds", "started", "finished")
#: Rows predicted per dataset.
PREDICTED_ROWS = 3000


def record(out: Path, trials: int, names: list[str] | None) -> None:
    import labcoat

    out.mkdir(parents=True, exist_ok=True)
    for dataset in DATASETS:
        if names and dataset.name not in names:
            continue
        if dataset.source == "shared" and not (SHARED / f"{dataset.name}.csv").exists():
            print(f"{dataset.name}: skipped, {SHARED} does not hold it")
            continue
        frame = load(dataset)
        frame = frame[frame[dataset.target].notna()].reset_index(drop=True)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = labcoat.fit(frame, target=dataset.target, trials=trials, seed=0, n_jobs=1,
                                quiet=True, track=False, report=False)
            predictions = model.predict_frame(frame.head(PREDICTED_ROWS))
        board = without_timings(model.leaderboard)
        board.to_csv(out / f"{dataset.name}.leaderboard.csv", index=False)
        predictions.to_pickle(out / f"{dataset.name}.predictions.pkl")
        print(f"{dataset.name}: {len(board)} trials, {model.metric}, "
              f"{time.perf_counter() - started:.1f} s", flush=True)


def without_timings(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard without the columns that measure time (they differ run to run)."""
    return board.drop(columns=[c for c in board.columns if any(c.startswith(t) for t in TIMINGS)])


def compare(before: Path, after: Path) -> int:
    differences = 0
    names = sorted(p.name.removesuffix(".leaderboard.csv") for p in before.glob("*.leaderboard.csv"))
    for name in names:
        problems = []
        old_board = without_timings(pd.read_csv(before / f"{name}.leaderboard.csv"))
        new_path = after / f"{name}.leaderboard.csv"
        if not new_path.exists():
            print(f"{name}: MISSING in {after}")
            differences += 1
            continue
        new_board = without_timings(pd.read_csv(new_path))
        if not old_board.equals(new_board):
            problems.append("leaderboard differs")
        old = pd.read_pickle(before / f"{name}.predictions.pkl")
        new = pd.read_pickle(after / f"{name}.predictions.pkl")
        if list(old.columns) != list(new.columns):
            problems.append(f"prediction columns {list(old.columns)} -> {list(new.columns)}")
        else:
            for column in old.columns:
                a, b = old[column].to_numpy(), new[column].to_numpy()
                same = (np.array_equal(a.view(np.uint64), b.view(np.uint64))
                        if a.dtype == np.float64 and b.dtype == np.float64 else
                        a.dtype == b.dtype and np.array_equal(a, b))
                if not same:
                    problems.append(f"column {column!r} differs ({a.dtype} vs {b.dtype})")
        differences += bool(problems)
        print(f"{name}: " + ("identical: leaderboard of %d trials, %d predictions x %d columns"
                             % (len(new_board), len(new), new.shape[1]) if not problems
                             else "; ".join(problems)))
    print(f"{len(names) - differences} of {len(names)} datasets identical")
    return 1 if differences else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--trials", type=int, default=8)
    rec.add_argument("--datasets", default="", help="comma-separated names (default: all)")
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        record(args.out, args.trials, [n for n in args.datasets.split(",") if n] or None)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
