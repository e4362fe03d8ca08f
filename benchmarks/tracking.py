"""What MLflow tracking costs a study, and how fast `labcoat runs list` answers on a big store.

Usage::

    python benchmarks/tracking.py                 # 60 s study, 1,000-run store
    python benchmarks/tracking.py --budget 20 --runs 200

1. Overhead: a study with a 60 s budget (tracking off) fixes a trial count N; the same N trials
   are then run with tracking off, into the embedded SQLite store, and into a real
   ``mlflow server`` on 127.0.0.1, and the wall times compared. With a trial count the trials
   are identical, so the difference is what tracking costs.
2. Listing: a store is filled with 1,000 study runs (tags, params and metrics as a real study
   writes them), then ``labcoat runs list`` is timed as a command, as a user runs it.
Figures go to stdout and to the ``tracking`` section of ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _results import write_section

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root / 'server.db'}", "--artifacts-destination",
         str(root / "artifacts"), "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(uri + "/health", timeout=2).read()
            return process, uri
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("mlflow server did not start")


def timed_fit(frame, **kwargs) -> tuple[float, object]:
    import labcoat

    started = time.perf_counter()
    model = labcoat.fit(frame, target="churned", quiet=True, seed=0, **kwargs)
    return time.perf_counter() - started, model


def overhead(budget: float, rows: int, scratch: Path) -> list[str]:
    from labcoat.datasets import make_churn

    frame = make_churn(rows, seed=1)
    _, probe = timed_fit(frame, budget=budget, track=False)
    n = int(probe.info.n_trials)
    off, _ = timed_fit(frame, trials=n, track=False)
    sqlite_uri = f"sqlite:///{scratch / 'store' / 'mlflow.db'}?timeout=60"
    timed_fit(frame, trials=1, tracking_uri=sqlite_uri)  # creates the store (schema migrations)
    on_sqlite, model_sqlite = timed_fit(frame, trials=n, tracking_uri=sqlite_uri)
    server, server_uri = start_server(scratch)
    try:
        timed_fit(frame, trials=1, tracking_uri=server_uri)
        on_server, model_server = timed_fit(frame, trials=n, tracking_uri=server_uri)
    finally:
        server.terminate()
        server.wait(15)
    lines = [f"Study: generated churn data, {rows:,} rows; {n} trials (what a {budget:g} s budget "
             "completed with tracking off), run again as a fixed trial count.", "",
             "| tracking | wall s | vs off | time inside the recorder |", "|---|---:|---:|---:|",
             f"| off | {off:.1f} | — | — |"]
    for name, wall, model in (("embedded SQLite", on_sqlite, model_sqlite),
                              ("mlflow server (HTTP)", on_server, model_server)):
        inside = model.info.tracking_seconds
        lines.append(f"| {name} | {wall:.1f} | {100 * (wall / off - 1):+.1f}% | {inside:.2f} s "
                     f"({100 * inside / wall:.1f}%) |")
        print(f"{name}: {wall:.1f} s vs {off:.1f} s off; recorder {inside:.2f} s", flush=True)
    lines += ["", "The wall-time difference also holds run-to-run noise of the trials themselves; "
              "the recorder's own time (all MLflow calls, artifacts and the model included) is "
              "the direct measure."]
    return lines


def fill_store(uri: str, runs: int) -> None:
    """``runs`` studies as a real fit writes them (same tags, params and metrics)."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    from labcoat.tracking import store

    client = MlflowClient(uri)
    store.prepare(uri)
    experiment = store.experiment_id(client)
    now = int(time.time() * 1000)
    for i in range(runs):
        run = client.create_run(experiment, run_name=f"churned {i}", tags={"labcoat.kind": "study"})
        tags = [RunTag(k, v) for k, v in {
            "lineage.data_fingerprint": f"{i:064x}", "lineage.rows": "5000", "lineage.source": "/data/x.csv",
            "labcoat.task": "binary", "labcoat.metric": "roc_auc", "labcoat.best_family": "lightgbm"}.items()]
        params = [Param(k, v) for k, v in {"target": "churned", "seed": "0", "budget_seconds": "60"}.items()]
        metrics = [Metric(k, v, now, 0) for k, v in {"ensemble_score": 0.9, "ensemble_score_std": 0.01,
                                                     "n_trials": 30.0}.items()]
        client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(run.info.run_id, "FINISHED")


def listing(runs: int, scratch: Path) -> list[str]:
    uri = f"sqlite:///{scratch / 'big' / 'mlflow.db'}?timeout=60"
    started = time.perf_counter()
    fill_store(uri, runs)
    print(f"filled a store with {runs} runs in {time.perf_counter() - started:.0f} s", flush=True)
    lines = [f"Store: embedded SQLite with {runs:,} study runs.", "",
             "| command | wall s (median of 3) |", "|---|---:|"]
    for limit in (50, runs):
        command = [sys.executable, "-m", "labcoat", "runs", "list", "--limit", str(limit),
                   "--tracking-uri", uri, "--json"]
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        median = sorted(times)[1]
        lines.append(f"| `labcoat runs list --limit {limit}` | {median:.2f} |")
        print(f"runs list --limit {limit}: {median:.2f} s", flush=True)
    lines += ["", "Times are whole commands: interpreter start, imports and the query."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="labcoat-bench-tracking-") as scratch:
        lines = ["## Tracking cost and run listing (`benchmarks/tracking.py`)", "",
                 f"Written on {time.strftime('%Y-%m-%d')}; {os.cpu_count()} cores.", "", "### Overhead", ""]
        lines += overhead(args.budget, args.rows, Path(scratch))
        lines += ["", "### `labcoat runs list`", ""]
        lines += listing(args.runs, Path(scratch))
    write_section("tracking", "\n".join(lines))
    print("wrote benchmarks/RESULTS.md (tracking section)")


if __name__ == "__main__":
    main()
