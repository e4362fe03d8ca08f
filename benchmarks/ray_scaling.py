"""Scale-out benchmark: trials per minute of one study on a Ray cluster of 1 vs 2 single-CPU
worker nodes (target: 2 workers >= 1.7 x 1 worker), and the leaderboard's quality against the
local executor at the same trial count.

Each cluster is started for its runs with ``labcoat.search.ray_cluster.LocalCluster``: a head
with 0 CPUs (it schedules no trial) and N worker nodes of 1 CPU, all separate ``ray start``
processes on this machine. Every run is the same study (``make_churn(20000)``, a fixed trial
count and seed, no budget). Trials per minute are counted over the search: from the executor's
start (connecting, the data put in the object store) to its stop (every trial back), so the
workers' start-up is in it, but not the data preparation before the search nor the refit after
it, which are the same in every run. "Slots busy" is the trials' own time over search time x
CPUs.

With two slots Optuna proposes the tuned trials from fewer results, so a 2-worker study does not
train the same configurations as a 1-worker one, and its trials can be cheaper or dearer. The
row "1 worker, 2 slots" removes that: the study is run with two slots on one worker (Ray queues
the second task), so it trains exactly the 2-worker run's trials, one at a time. Both ratios are
reported. Cluster runs are repeated (``--repeats``, in turn) and the median kept, since other
work on the machine slows any single run. The local runs are a sequential search (one thread per
model, like a 1-CPU task) and ``n_jobs=2`` worker processes. Run:
``.venv/bin/python benchmarks/ray_scaling.py [--trials 16] [--repeats 3]``; writes the
``ray_scaling`` section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

from labcoat.search.executor import Executor  # noqa: E402

FAMILIES = ["lightgbm", "xgboost"]


class Timed(Executor):
    """Another executor, timed from the study's first use (``start``) to its last (``stop``)."""

    def __init__(self, inner: Executor, slots: int | None = None) -> None:
        self.inner, self.slots, self.seconds, self._started = inner, slots, 0.0, 0.0

    @property
    def capacity(self) -> int:
        return self.slots or self.inner.capacity

    def check(self) -> None:
        self.inner.check()

    def threads(self, idle):
        return self.inner.threads(idle)

    def describe(self) -> str:
        return self.inner.describe()

    def start(self, data) -> None:
        self._started = time.monotonic()
        self.inner.start(data)

    def submit(self, request):
        return self.inner.submit(request)

    def wait(self, handles, timeout=None):
        return self.inner.wait(handles, timeout)

    def cancel(self, handles) -> None:
        self.inner.cancel(handles)

    def stop(self) -> None:
        self.inner.stop()
        self.seconds = time.monotonic() - self._started


CEILING = """
import numpy as np, lightgbm as lgb
rng = np.random.default_rng(0)
X = rng.normal(size=(20000, 20)); y = (X[:, 0] + rng.normal(size=20000) > 0).astype(int)
lgb.LGBMClassifier(n_estimators=400, num_threads=1, verbose=-1).fit(X, y)
"""


def machine_ceiling() -> float:
    """Work done per second by two single-thread processes at once over one alone (2.0 is
    perfect): what any scale-out on this machine can reach, measured now."""
    def timed(copies: int) -> float:
        started = time.perf_counter()
        jobs = [subprocess.Popen([sys.executable, "-c", CEILING]) for _ in range(copies)]
        for job in jobs:
            job.wait()
        return time.perf_counter() - started

    return 2 * timed(1) / timed(2)


def run(frame, trials: int, executor, *, cpus: int, slots: int | None = None) -> dict:
    import labcoat

    load = os.getloadavg()[0]
    timed = Timed(executor, slots)
    model = labcoat.fit(frame, "churned", trials=trials, seed=0, families=FAMILIES, quiet=True, track=False,
                        report=False, executor=timed)
    board = model.leaderboard
    best = board.iloc[0]
    busy = float(board["fit_time"].sum())
    return {"seconds": timed.seconds, "per_minute": trials / timed.seconds * 60,
            "utilisation": busy / (timed.seconds * cpus),
            "best": float(best["score"]), "low": float(best["score_low"]), "high": float(best["score_high"]),
            "ensemble": float(model.info.ensemble_score), "failed": int((board["status"] != "ok").sum()),
            "load": load, "trials": [(r.family, r.params, r.score) for r in board.sort_values("trial").itertuples()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # see LocalCluster._env
    from labcoat.datasets import make_churn
    from labcoat.search.executor import LocalExecutor
    from labcoat.search.processes import ProcessExecutor
    from labcoat.search.ray_cluster import LocalCluster
    from labcoat.search.ray_executor import RayExecutor

    frame = make_churn(args.rows)
    started_load = os.getloadavg()
    ceiling = machine_ceiling()
    print(f"load average at start: {started_load[0]:.2f}; two processes at once do {ceiling:.2f}x the work "
          "of one", flush=True)
    one, queued, two = "ray, 1 worker", "ray, 1 worker, 2 slots", "ray, 2 workers"
    results: dict[str, list[dict]] = {"local, sequential": [], "local, n_jobs=2": [], one: [], queued: [], two: []}
    results["local, sequential"].append(run(frame, args.trials, LocalExecutor(n_jobs=1), cpus=1))
    results["local, n_jobs=2"].append(run(frame, args.trials, ProcessExecutor(2), cpus=2))
    for _ in range(args.repeats):
        for name, workers, slots in ((one, 1, None), (queued, 1, 2), (two, 2, None)):
            with LocalCluster(workers=workers, cpus=1, head_cpus=0) as cluster:
                outcome = run(frame, args.trials, RayExecutor(cluster.address), cpus=workers, slots=slots)
            results[name].append(outcome)
            print(f"{name}: {outcome['per_minute']:.1f} trials/min ({outcome['seconds']:.1f} s, "
                  f"busy {outcome['utilisation']:.0%}, load {outcome['load']:.2f})", flush=True)
    ended_load = os.getloadavg()

    def median(name: str, key: str = "per_minute") -> float:
        return statistics.median(r[key] for r in results[name])

    def runs(name: str) -> str:
        return ", ".join(f"{r['per_minute']:.1f}" for r in results[name])

    sequential = results["local, sequential"][0]
    same_sequential = sequential["trials"] == results[one][0]["trials"]
    same_parallel = all(r["trials"] == results[two][0]["trials"] for r in results[two] + results[queued])
    within = all(sequential["low"] <= r["best"] <= sequential["high"] for r in results[two])
    lines = [
        "## Scale-out on Ray (`benchmarks/ray_scaling.py`)", "",
        (f"One study ({args.trials} trials of {', '.join(FAMILIES)}, seed 0, no budget) on "
         f"`make_churn({args.rows})` (3-fold CV), on this 2-core machine; Ray {_ray_version()}. Clusters: a "
         "head with 0 CPUs and N worker nodes of 1 CPU, separate `ray start` processes. Search time from "
         "the executor's start (connection, data put, workers' start-up) to the last trial back; median "
         f"of {args.repeats} runs per cluster row. Load average {started_load[0]:.2f} at the start, "
         f"{ended_load[0]:.2f} at the end (other engineers' work shares the machine); two single-thread "
         f"LightGBM fits in two processes at once did {ceiling:.2f}x the work of one alone at the start "
         "(2.00: two free cores)."), "",
        "| executor | runs | search s | trials/min (runs) | CPUs busy | best trial (95% interval) | ensemble | failed |",
        "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: |",
    ]
    for name, done in results.items():
        first = done[0]
        lines.append(f"| {name} | {len(done)} | {median(name, 'seconds'):.1f} | {median(name):.1f} ({runs(name)}) | "
                     f"{median(name, 'utilisation'):.0%} | {first['best']:.4f} ({first['low']:.4f}-{first['high']:.4f})"
                     f" | {first['ensemble']:.4f} | {first['failed']} |")
    lines += [
        "",
        (f"**Speed-up, 2 workers vs 1: {median(two) / median(one):.2f}x** for the same study (target >= 1.7x); "
         f"**{median(two) / median(queued):.2f}x** on identical trials (2 workers vs the same trials one at a "
         "time on 1 worker)."), "",
        ("Same results: one Ray worker runs the sequential search, and its trials and scores are "
         f"{'identical to' if same_sequential else 'NOT identical to'} the local sequential run's; every "
         f"2-slot run (2 workers, or 1 worker with 2 slots) trained {'the same' if same_parallel else 'DIFFERENT'} "
         "trials with the same scores. With two slots, proposal k sees the trials 0..k-4 only (see "
         "`search/study.py`), so its tuned trials differ from the sequential search's. Quality: ROC AUC of "
         f"the best trial and of the ensemble; the 2-worker runs' best trial is {'within' if within else 'OUTSIDE'} "
         "the 95% interval of the sequential run's best."),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("ray_scaling", text)
    return 0


def _ray_version() -> str:
    import ray

    return ray.__version__


if __name__ == "__main__":
    sys.exit(main())
