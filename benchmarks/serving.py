"""Serving benchmark: ``labcoat serve`` against ``mlflow models serve`` on the same model.

One LightGBM-based labcoat model, saved once (an MLflow pyfunc model, so both servers load the
very same folder). Each server runs with one worker on 127.0.0.1; the load comes from ``wrk``
(Debian's package) in a second process. Figures:

- throughput with 32 concurrent connections sending single-row requests (MLflow's
  ``dataframe_split`` body to both servers' ``/invocations``, and labcoat's own ``/predict``);
- single-row latency p50/p99 at moderate load (4 connections with think time offering half the
  maximum), and what the service adds over the in-process ``Model.predict_frame`` of one row;
- a 1,000-row request; validating a 600-column × 100-row request (in process);
- a 60 s soak at about 80% of the maximum throughput (32 connections with think time): errors,
  and log records against answered requests.

Run: ``.venv/bin/python benchmarks/serving.py`` (writes the ``serving`` section of RESULTS.md).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

BIN = Path(sys.executable).parent
#: Every wrk run: (url, requests, errors), to check the prediction log against what was answered.
RUNS: list[tuple[str, int, int]] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited while starting ({url})")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def wrk(url: str, body: str, *, connections: int, seconds: int, think_ms: float = 0.0) -> dict[str, float]:
    """Requests/s, latency percentiles (ms) and non-2xx answers of a wrk run POSTing ``body``.

    ``think_ms``: each connection waits an exponentially distributed time of this mean between
    its requests (clients with think time rather than a closed loop at full speed), which sets
    the offered load below the maximum.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                     f"wrk.body = {json.dumps(body)}\n")
        if think_ms > 0:
            script.write(f"function delay()\n  return -math.log(1 - math.random()) * {think_ms}\nend\n")
    out = subprocess.run(["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", "-s", script.name, url], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    RUNS.append((url, int(re.search(r"(\d+) requests in", out).group(1)),
                 (int(errors.group(1)) if errors else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": ms("50"), "p99": ms("99"),
            "errors": (int(errors.group(1)) if errors else 0)
            + (sum(int(v) for v in socket_errors.groups()) if socket_errors else 0)}


def think_time(connections: int, rate: float, latency_ms: float) -> float:
    """Mean think time (ms) per connection for ``connections`` clients to offer ``rate`` req/s."""
    return max(connections / rate * 1000 - latency_ms, 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="Duration of each throughput run.")
    parser.add_argument("--soak", type=int, default=60, help="Duration of the soak run.")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")
    import mlflow
    import pandas as pd

    import labcoat
    from labcoat.data.schema import Schema
    from labcoat.datasets import make_churn
    from labcoat.serve.predlog import read_log
    from labcoat.serve.validation import Validator

    work = Path(tempfile.mkdtemp(prefix="labcoat-serving-"))
    frame = make_churn(5000)
    model = labcoat.fit(frame, target="churned", trials=3, families=["lightgbm"], quiet=True, track=False,
                        report=False, seed=0)
    folder = model.save(work / "model")
    rows = frame.drop(columns=["churned", "customer_id"])
    one = rows.head(1)
    split_one = json.dumps({"dataframe_split": json.loads(one.to_json(orient="split", index=False))})
    predict_one = json.dumps({"rows": json.loads(one.to_json(orient="records"))})
    split_1000 = json.dumps({"dataframe_split": json.loads(rows.head(1000).to_json(orient="split", index=False))})

    timings = []
    for _ in range(2000):
        started = time.perf_counter()
        model.predict_frame(one)
        timings.append((time.perf_counter() - started) * 1000)
    in_process = statistics.median(timings[200:])

    import numpy as np

    wide = pd.DataFrame(np.random.default_rng(0).normal(size=(100, 600)), columns=[f"x{i}" for i in range(600)])
    wide["y"] = [0, 1] * 50
    validator = Validator(Schema.infer(wide, "y"))
    request = wide.drop(columns="y")
    checks = []
    for _ in range(50):
        started = time.perf_counter()
        validator.check(request)
        checks.append((time.perf_counter() - started) * 1000)
    validation_ms = statistics.median(checks)

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    results: dict[str, dict[str, dict[str, float]]] = {}
    servers = {
        "labcoat": lambda port: [str(BIN / "labcoat"), "serve", str(folder), "--port", str(port), "--workers", "1",
                                 "--log", str(work / "predictions.db")],
        "mlflow": lambda port: [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(folder),
                                "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
    }
    for name, command in servers.items():
        port = free_port()
        process = subprocess.Popen(command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            wait(f"http://127.0.0.1:{port}/" + ("health" if name == "labcoat" else "ping"), process)
            base = f"http://127.0.0.1:{port}"
            if name == "labcoat":
                labcoat_base = base
            wrk(f"{base}/invocations", split_one, connections=4, seconds=3)  # warm-up
            out = {"throughput": wrk(f"{base}/invocations", split_one, connections=32, seconds=args.seconds),
                   "single": wrk(f"{base}/invocations", split_one, connections=1, seconds=args.seconds)}
            # Moderate load: 4 clients whose think time offers about half the maximum throughput.
            out["moderate"] = wrk(f"{base}/invocations", split_one, connections=4, seconds=args.seconds,
                                  think_ms=think_time(4, 0.5 * out["throughput"]["rps"], out["single"]["p50"]))
            out["moderate"]["share"] = out["moderate"]["rps"] / out["throughput"]["rps"]
            out["batch"] = wrk(f"{base}/invocations", split_1000, connections=1, seconds=args.seconds)
            if name == "labcoat":
                out["predict"] = wrk(f"{base}/predict", predict_one, connections=32, seconds=args.seconds)
                # The maximum is reached with 32 connections (micro-batching needs concurrent
                # requests), so the soak offers its 80% from 32 clients with think time.
                out["soak"] = wrk(f"{base}/invocations", split_one, connections=32, seconds=args.soak,
                                  think_ms=think_time(32, 0.8 * out["throughput"]["rps"], out["throughput"]["p50"]))
                out["soak"]["share"] = out["soak"]["rps"] / out["throughput"]["rps"]
            results[name] = out
        finally:
            process.terminate()
            process.wait(timeout=30)
    logged = sum(1 for _ in read_log(work / "predictions.db"))
    answered = sum(n - e for url, n, e in RUNS if url.startswith(labcoat_base))
    text = render(results, in_process, validation_ms, logged, answered, labcoat.__version__, mlflow.__version__,
                  soak_seconds=args.soak)
    print(text)
    write_section("serving", text)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def render(results: dict, in_process: float, validation_ms: float, logged: int, answered: int,
           labcoat_version: str, mlflow_version: str, soak_seconds: int) -> str:
    lab, ml = results["labcoat"], results["mlflow"]
    soak = lab["soak"]
    ratio = lab["throughput"]["rps"] / ml["throughput"]["rps"]
    lines = [
        "## Serving: `labcoat serve` vs `mlflow models serve`",
        "",
        f"Written by `benchmarks/serving.py` on {time.strftime('%Y-%m-%d')}: labcoat {labcoat_version}, "
        f"MLflow {mlflow_version}; the same LightGBM-based model folder (5,000 churn rows, 11 columns), one worker "
        f"each, load from `wrk` in another process on 127.0.0.1, {os.cpu_count()} cores shared by server and load.",
        "",
        "| measure | labcoat | MLflow | target |",
        "| --- | --- | --- | --- |",
        f"| single-row requests/s, 32 connections (`/invocations`) | {lab['throughput']['rps']:,.0f} | "
        f"{ml['throughput']['rps']:,.0f} | ≥ 3× MLflow: {ratio:.1f}× {'met' if ratio >= 3 else 'missed'} |",
        f"| single-row requests/s, 32 connections (labcoat `/predict`) | {lab['predict']['rps']:,.0f} | | |",
        f"| single-row p50 / p99 at moderate load (ms; 4 clients with think time, {lab['moderate']['share']:.0%} / "
        f"{ml['moderate']['share']:.0%} of each server's max) | {lab['moderate']['p50']:.2f} / {lab['moderate']['p99']:.2f} | "
        f"{ml['moderate']['p50']:.2f} / {ml['moderate']['p99']:.2f} | ≤ 3 / ≤ 15 |",
        f"| single-row p50 / p99 at 1 connection (ms) | {lab['single']['p50']:.2f} / {lab['single']['p99']:.2f} | "
        f"{ml['single']['p50']:.2f} / {ml['single']['p99']:.2f} | |",
        f"| in-process `predict_frame`, one row (ms, median) | {in_process:.2f} | | |",
        f"| added by the service (p50 at 1 connection − in-process, ms) | {lab['single']['p50'] - in_process:.2f} | "
        f"{ml['single']['p50'] - in_process:.2f} | ≤ 1 |",
        f"| 1,000-row request p50 (ms) | {lab['batch']['p50']:.1f} | {ml['batch']['p50']:.1f} | ≤ 50 |",
        f"| validation, 600 columns × 100 rows (ms, in process) | {validation_ms:.1f} | | ≤ 10 |",
        f"| soak {soak_seconds} s, 32 clients with think time, {soak['share']:.0%} of max, errors | {soak['errors']:.0f} "
        f"of {soak['requests']:,} | | 0 |",
        f"| log records / answered requests (all labcoat runs) | {logged:,} / {answered:,} | | equal |",
        "",
        "Moderate load: 4 `wrk` connections, each waiting an exponentially distributed think time between "
        "requests, its mean set to offer 50% of the server's measured maximum; the soak: 32 such connections "
        "offering 80%. labcoat predicts concurrent requests together (micro-batching); MLflow one by one.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
