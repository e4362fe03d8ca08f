"""Forecasting side by side: labcoat, seasonal naive, statsforecast's ensemble and
AutoGluon-TimeSeries on M4 Hourly, M4 Weekly and the generated retail set.

Usage::

    python benchmarks/forecasting.py                       # 5 min per dataset and system
    python benchmarks/forecasting.py --budget 60 --datasets m4_weekly --series 50

Each system runs in its own process (labcoat in this repository's venv; statsforecast and
AutoGluon-TimeSeries each in a venv of its own under ``benchmarks/.venvs/``, made on first use)
on the same long table, and writes point forecasts and the 10%, 50% and 90% quantiles of the
test horizon. Scores are computed here: MASE (M4's seasonal period: hourly 24, weekly 1, daily
1), sMAPE, OWA against Naive2, the weighted quantile loss over the three quantiles, the 80%
interval's coverage; wall time and the peak resident memory of the process. The M4 files are
wide (one series a row, no timestamps): series get hourly timestamps from 2000-01-01 or
weekly ones from 2000-01-03, which changes nothing for models without calendar covariates.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from _results import cpu_name, peer_python, run_in_group, write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "datasets" / "timeseries"
VENVS = HERE / ".venvs"
QUANTILES = (0.1, 0.5, 0.9)
#: name: (file stem or None for the generated set, frequency, horizon, MASE season)
DATASETS = {"m4_hourly": ("m4_hourly", "h", 48, 24), "m4_weekly": ("m4_weekly", "W-MON", 13, 1),
            "retail": (None, "D", 28, 1)}
PEERS = {"statsforecast": ["statsforecast==2.1.1"],
         "autogluon": ["torch==2.13.0", "autogluon.timeseries==1.6.3"]}

RUNNERS = {
    "labcoat": """
import json, sys, time, warnings
import pandas as pd, labcoat
warnings.simplefilter("ignore")
task = json.load(open(sys.argv[1]))
train = pd.read_parquet(task["train"])
started = time.monotonic()
model = labcoat.fit(train, "y", task="forecast", time_column="ds", series=["unique_id"], horizon=task["horizon"],
                    freq=task["freq"], budget=task["budget"], quiet=True, track=False, report=False)
seconds = time.monotonic() - started
out = model.forecast(quantiles=(0.1, 0.5, 0.9)).rename(columns={"forecast": "mean"})
out.to_parquet(task["out"])
model.save(task["out"] + ".model")
loaded = labcoat.load(task["out"] + ".model")
one = [{"unique_id": str(train["unique_id"].iloc[0])}]
times = []
for _ in range(50):
    t = time.perf_counter(); loaded.forecast(series=one); times.append(time.perf_counter() - t)
times.sort()
json.dump({"seconds": seconds, "version": labcoat.__version__, "ensemble": model.info["ensemble_by_group"],
           "one_series_ms": 1000 * times[len(times) // 2]}, open(task["out"] + ".json", "w"))
""",
    "statsforecast": """
import json, sys, time
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoARIMA, AutoCES, AutoETS, AutoTheta
import statsforecast
task = json.load(open(sys.argv[1]))
train = pd.read_parquet(task["train"])
season = task["season"]
started = time.monotonic()
models = [AutoETS(season_length=season), AutoARIMA(season_length=season), AutoTheta(season_length=season),
          AutoCES(season_length=season)]
sf = StatsForecast(models=models, freq=task["freq"], n_jobs=2)
fc = sf.forecast(df=train, h=task["horizon"], level=[80])
names = ["AutoETS", "AutoARIMA", "AutoTheta", "CES"]
out = fc[["unique_id", "ds"]].copy()
out["mean"] = fc[names].mean(axis=1)
out["p10"] = fc[[f"{n}-lo-80" for n in names]].mean(axis=1)
out["p90"] = fc[[f"{n}-hi-80" for n in names]].mean(axis=1)
out["p50"] = out["mean"]
out.to_parquet(task["out"])
json.dump({"seconds": time.monotonic() - started, "version": statsforecast.__version__}, open(task["out"] + ".json", "w"))
""",
    "autogluon": """
import json, sys, time
import pandas as pd
from autogluon.timeseries import TimeSeriesDataFrame, TimeSeriesPredictor
import autogluon.timeseries as agts
task = json.load(open(sys.argv[1]))
train = pd.read_parquet(task["train"]).rename(columns={"unique_id": "item_id", "ds": "timestamp", "y": "target"})
started = time.monotonic()
data = TimeSeriesDataFrame.from_data_frame(train, id_column="item_id", timestamp_column="timestamp")
predictor = TimeSeriesPredictor(prediction_length=task["horizon"], freq=task["freq"], quantile_levels=[0.1, 0.5, 0.9],
                                eval_metric="MASE", path=task["out"] + ".ag", verbosity=0)
predictor.fit(data, time_limit=task["budget"])
fc = predictor.predict(data).reset_index().rename(columns={"item_id": "unique_id", "timestamp": "ds", "0.1": "p10",
                                                           "0.5": "p50", "0.9": "p90"})
fc.to_parquet(task["out"])
json.dump({"seconds": time.monotonic() - started, "version": agts.__version__}, open(task["out"] + ".json", "w"))
""",
}


def load(name: str, series: int | None) -> tuple[pd.DataFrame, pd.DataFrame, str, int, int]:
    """Long train and test tables (``unique_id``, ``ds``, ``y``), frequency, horizon, season."""
    stem, freq, horizon, season = DATASETS[name]
    if stem is None:
        sys.path.insert(0, str(ROOT / "src"))
        from labcoat.datasets import make_retail

        sales = make_retail(n_stores=3, n_items=10, days=730, seed=0)
        sales["unique_id"] = sales["store"] + "/" + sales["item"]
        long = sales.rename(columns={"date": "ds", "sales": "y"})[["unique_id", "ds", "y"]]
        cut = long["ds"].max() - pd.Timedelta(days=horizon)
        train, test = long[long["ds"] <= cut], long[long["ds"] > cut]
    else:
        wide_train = pd.read_csv(SHARED / f"{stem}_train.csv")
        wide_test = pd.read_csv(SHARED / f"{stem}_test.csv")
        start = pd.Timestamp("2000-01-01") if freq == "h" else pd.Timestamp("2000-01-03")
        parts_train, parts_test = [], []
        for (_, tr), (_, te) in zip(wide_train.iterrows(), wide_test.iterrows()):
            values = tr.iloc[1:].dropna().to_numpy(dtype=float)
            times = pd.date_range(start, periods=len(values) + horizon, freq=freq)
            parts_train.append(pd.DataFrame({"unique_id": tr.iloc[0], "ds": times[:len(values)], "y": values}))
            parts_test.append(pd.DataFrame({"unique_id": tr.iloc[0], "ds": times[len(values):],
                                            "y": te.iloc[1:horizon + 1].to_numpy(dtype=float)}))
        train, test = pd.concat(parts_train, ignore_index=True), pd.concat(parts_test, ignore_index=True)
    if series:
        keep = train["unique_id"].drop_duplicates().iloc[:series]
        train, test = train[train["unique_id"].isin(keep)], test[test["unique_id"].isin(keep)]
    return train.reset_index(drop=True), test.reset_index(drop=True), freq, horizon, season


def python_for(system: str) -> Path:
    if system == "labcoat":
        return Path(sys.executable)
    return peer_python(VENVS / f"ts-{system}", [*PEERS[system], "pyarrow"])


def run(system: str, train: Path, out: Path, *, freq: str, horizon: int, season: int, budget: float,
        timeout: float | None = None) -> dict:
    if system == "seasonal_naive":
        return {}
    return run_runner(system, RUNNERS[system], {"train": str(train), "out": str(out), "freq": freq, "horizon": horizon,
                                                "season": season, "budget": budget},
                      out, timeout or 3 * budget + 1800)


def run_runner(system: str, source: str, task: dict, out: Path, timeout: float) -> dict:
    """Run runner ``source`` of ``system`` in the system's venv on ``task`` (a JSON file beside
    ``out``): its JSON report (``out`` + ``.json``) and the wall seconds, or the error."""
    task_file = out.with_suffix(".task.json")
    task_file.write_text(json.dumps(task))
    script = out.with_name(f"run_{out.stem}.py")  # not "<package>.py": it would shadow the package
    script.write_text(source)
    started = time.monotonic()
    done = run_in_group([str(python_for(system)), str(script), str(task_file)], timeout=timeout,
                        env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.monotonic() - started
    if done is None:
        return {"error": f"stopped after {timeout:.0f} s (--timeout)", "wall": wall}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:200], "wall": wall}
    return {**json.loads(Path(str(out) + ".json").read_text()), "wall": wall}


def served_latency(model: Path, series: str, requests: int = 200) -> tuple[float, float]:
    """p50 and p95 milliseconds of ``POST /forecast`` for one series, ``labcoat serve`` on
    127.0.0.1 (one worker), after a warm-up."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    labcoat = Path(sys.executable).parent / "labcoat"
    with tempfile.TemporaryDirectory() as scratch:
        server = subprocess.Popen([str(labcoat), "serve", str(model), "--port", str(port), "--log",
                                   str(Path(scratch) / "log.db")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            body = json.dumps({"series": [{"unique_id": series}]}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/forecast", data=body,
                                             headers={"Content-Type": "application/json"})
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(request, timeout=5).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                urllib.request.urlopen(request, timeout=5).read()
                times.append(time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 1000 * float(np.percentile(times, 50)), 1000 * float(np.percentile(times, 95))


def seasonal_naive(train: pd.DataFrame, horizon: int, m: int, freq: str) -> pd.DataFrame:
    rows = []
    for key, group in train.groupby("unique_id", sort=False):
        y = group["y"].to_numpy()
        period = m if len(y) >= m else 1
        values = np.resize(y[-period:], horizon)
        residuals = y[period:] - y[:-period] if len(y) > period else np.zeros(1)
        spread = np.quantile(residuals, [0.1, 0.9]) if len(residuals) > 1 else (0.0, 0.0)
        steps = np.sqrt(np.floor(np.arange(horizon) / period) + 1)
        times = pd.date_range(group["ds"].iloc[-1], periods=horizon + 1, freq=freq)[1:]
        rows.append(pd.DataFrame({"unique_id": key, "ds": times, "mean": values, "p50": values,
                                  "p10": values + spread[0] * steps, "p90": values + spread[1] * steps}))
    return pd.concat(rows, ignore_index=True)


def scores(forecast: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, season: int, naive2: dict) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from labcoat.tasks.forecast.metrics import owa, parts

    joined = test.merge(forecast, on=["unique_id", "ds"], how="left")
    keys = test["unique_id"].drop_duplicates().tolist()
    h = len(joined) // len(keys)
    actual = joined["y"].to_numpy().reshape(len(keys), h)
    point = joined["mean"].to_numpy().reshape(len(keys), h)
    history = [g["y"].to_numpy() for _, g in train.groupby("unique_id", sort=False)]
    order = {k: i for i, k in enumerate(train["unique_id"].drop_duplicates())}
    history = [history[order[k]] for k in keys]
    out = {}
    for metric in ("mase", "smape"):
        num, den = parts(metric, actual, point, history, season=season)
        out[metric] = float(num.sum() / den.sum())
    quant = {q: joined[f"p{int(q * 100)}"].to_numpy().reshape(len(keys), h) for q in QUANTILES}
    num, den = parts("wql", actual, point, history, season=season, quantiles=quant)
    out["wql"] = float(num.sum() / den.sum())
    out["coverage_80"] = float(((actual >= quant[0.1]) & (actual <= quant[0.9])).mean())
    out["missing"] = int(np.isnan(point).sum())
    if naive2:
        out["owa"] = owa(out["mase"], out["smape"], naive2["mase"], naive2["smape"])
    return out


def naive2_scores(train: pd.DataFrame, test: pd.DataFrame, freq: str, horizon: int, season: int) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from labcoat.tasks.forecast.candidates import seasonal_indices

    rows = []
    for key, group in train.groupby("unique_id", sort=False):
        y = group["y"].to_numpy()
        index = seasonal_indices(y, season)
        level = y[-1] / index[(len(y) - 1) % season]
        values = level * index[(len(y) + np.arange(horizon)) % season]
        times = pd.date_range(group["ds"].iloc[-1], periods=horizon + 1, freq=freq)[1:]
        rows.append(pd.DataFrame({"unique_id": key, "ds": times, "mean": values, "p10": values, "p50": values,
                                  "p90": values}))
    return scores(pd.concat(rows, ignore_index=True), train, test, season, {})


def render(results: list[dict], budget: float) -> str:
    lines = ["## Forecasting: labcoat vs statsforecast vs AutoGluon-TimeSeries (`benchmarks/forecasting.py`)", "",
             f"Written on {date.today().isoformat()}; {os.cpu_count()} cores ({cpu_name()}). Budget {budget:g} s per "
             "fit for labcoat and AutoGluon-TimeSeries (`time_limit`); statsforecast's ensemble (mean of AutoETS, "
             "AutoARIMA, AutoTheta, AutoCES, `n_jobs=2`) has no budget: its wall time is what it took. MASE with "
             "M4's seasonal period (hourly 24, weekly and daily 1); OWA against Naive2; WQL: the mean over the "
             "quantiles 0.1, 0.5, 0.9 of 2 x pinball loss / sum |actual|; coverage: share of actual values "
             "inside [p10, p90] (target 76-84%).", "",
             "| dataset | series | horizon | system | MASE | sMAPE | OWA | WQL | 80% coverage | wall s | peak RSS MB |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['dataset']} | {r['series']} | {r['horizon']} | {r['system']} | failed: "
                         f"{r['error']} | | | | | {r.get('wall', 0):.0f} | |")
            continue
        lines.append(f"| {r['dataset']} | {r['series']} | {r['horizon']} | {r['system']} | {r['mase']:.4f} | "
                     f"{r['smape']:.3f} | {r.get('owa', float('nan')):.4f} | {r['wql']:.4f} | "
                     f"{100 * r['coverage_80']:.1f}% | {r.get('wall', 0):.0f} | {r.get('rss_mb', 0):.0f} |")
    served = [r for r in results if "serve_p50_ms" in r]
    if served:
        lines += ["", "labcoat's model once saved and loaded: one series' forecast (`model.forecast(series=[...])`, "
                  "median of 50) and `POST /forecast` for one series on `labcoat serve` (127.0.0.1, one worker, "
                  "200 requests after a warm-up). Targets: 20 ms and p50 30 ms.", "",
                  "| dataset | one series, in process ms | POST /forecast p50 ms | p95 ms |", "|---|---:|---:|---:|"]
        lines += [f"| {r['dataset']} | {r['one_series_ms']:.1f} | {r['serve_p50_ms']:.1f} | {r['serve_p95_ms']:.1f} |"
                  for r in served]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per fit (default 300)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--systems", default="labcoat,seasonal_naive,statsforecast,autogluon")
    parser.add_argument("--series", type=int, default=None, help="only the first N series (a quick look)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds after which a system's run is stopped (default 3 x budget + 30 min)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="labcoat-forecast-bench-") as scratch:
        for name in args.datasets.split(","):
            if DATASETS[name][0] is not None and not (SHARED / f"{DATASETS[name][0]}_train.csv").exists():
                print(f"skip {name}: {SHARED} not found", flush=True)
                continue
            train, test, freq, horizon, season = load(name, args.series)
            path = Path(scratch) / f"{name}.parquet"
            train.to_parquet(path)
            naive2 = naive2_scores(train, test, freq, horizon, season)
            for system in args.systems.split(","):
                out = Path(scratch) / f"{name}-{system}.parquet"
                before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                info = run(system, path, out, freq=freq, horizon=horizon, season=season, budget=args.budget,
                           timeout=args.timeout)
                row = {"dataset": name, "series": train["unique_id"].nunique(), "horizon": horizon, "system": system,
                       **info, "rss_mb": max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024}
                if system == "labcoat" and "error" not in info:
                    row["serve_p50_ms"], row["serve_p95_ms"] = served_latency(
                        Path(str(out) + ".model"), str(train["unique_id"].iloc[0]))
                if "error" not in info:
                    forecast = (seasonal_naive(train, horizon, season if season > 1 else
                                               {"h": 24, "D": 7}.get(freq, 1), freq)
                                if system == "seasonal_naive" else pd.read_parquet(out))
                    forecast["unique_id"] = forecast["unique_id"].astype(str)
                    row.update(scores(forecast, train, test, season, naive2))
                results.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "ensemble"}, default=str), flush=True)
                write_section("forecasting", render(results, args.budget), args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
