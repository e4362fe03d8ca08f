"""Forecasting at scale: 10,000 daily series of two years on this machine, within a budget.

Usage::

    python benchmarks/forecast_scale.py                          # 10,000 series, 10 min
    python benchmarks/forecast_scale.py --series 1000 --budget 120

The series are ``labcoat.datasets.make_retail`` (stores x items, two years of days, a third of
them intermittent), ids, date and sales only. The last 28 days are held out. labcoat fits with
the budget (``labcoat.fit(task="forecast", budget=...)``) and forecasts every series; the peer a
user would otherwise reach for at this size, statsforecast's AutoETS (``n_jobs`` = all cores, no
budget: its wall time is what it took), runs in its own venv on the same table. Figures: wall
time of the fit and of the forecast, peak resident memory of each process, MASE (season 1, as
M4 scores daily series) and the weighted quantile loss over the 10%, 50% and 90% quantiles on
the held-out days, the share of those days inside [p10, p90]. Written to stdout and
``benchmarks/RESULTS.md`` (section ``forecast_scale``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from _results import cpu_name, write_section
from forecasting import run_runner

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HORIZON = 28

RUNNERS = {
    "labcoat": """
import json, resource, sys, time, warnings
import pandas as pd, labcoat
warnings.simplefilter("ignore")
task = json.load(open(sys.argv[1]))
train = pd.read_parquet(task["train"])
started = time.monotonic()
model = labcoat.fit(train, "sales", task="forecast", time_column="date", series=["store", "item"],
                    horizon=task["horizon"], budget=task["budget"], track=False, report=False)
fit_s = time.monotonic() - started
started = time.monotonic()
out = model.forecast(quantiles=(0.1, 0.5, 0.9))
forecast_s = time.monotonic() - started
out.to_parquet(task["out"])
board = model.leaderboard
json.dump({"fit_s": fit_s, "forecast_s": forecast_s, "version": labcoat.__version__,
           "ensemble": model.info["ensemble_by_group"],
           "tried": {r["candidate"]: r["status"] for r in board.to_dict("records") if r["candidate"] != "ensemble"},
           "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, open(task["out"] + ".json", "w"))
""",
    "statsforecast": """
import json, os, resource, sys, time
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS
task = json.load(open(sys.argv[1]))
train = pd.read_parquet(task["train"])
df = pd.DataFrame({"unique_id": train["store"] + "/" + train["item"], "ds": train["date"], "y": train["sales"]})
started = time.monotonic()
sf = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=os.cpu_count())
out = sf.forecast(df=df, h=task["horizon"], level=[80])
fit_s = time.monotonic() - started
out = out.reset_index() if "unique_id" not in out.columns else out
ids = out["unique_id"].str.split("/", n=1, expand=True)
pd.DataFrame({"store": ids[0], "item": ids[1], "date": out["ds"], "forecast": out["AutoETS"],
              "p10": out["AutoETS-lo-80"], "p50": out["AutoETS"], "p90": out["AutoETS-hi-80"]}).to_parquet(task["out"])
json.dump({"fit_s": fit_s, "forecast_s": 0.0, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
          open(task["out"] + ".json", "w"))
""",
}


def scores(forecast: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from labcoat.tasks.forecast.metrics import parts

    keys = ["store", "item"]
    test = test.sort_values([*keys, "date"])
    joined = test.merge(forecast, on=[*keys, "date"], how="left")
    n = len(test.groupby(keys))
    actual = joined["sales"].to_numpy(dtype=float).reshape(n, HORIZON)
    point = joined["forecast"].to_numpy(dtype=float).reshape(n, HORIZON)
    history = [g["sales"].to_numpy(dtype=float) for _, g in train.sort_values([*keys, "date"]).groupby(keys)]
    num, den = parts("mase", actual, point, history, season=1)
    quant = {q: joined[f"p{int(q * 100)}"].to_numpy(dtype=float).reshape(n, HORIZON) for q in (0.1, 0.5, 0.9)}
    wq_num, wq_den = parts("wql", actual, point, history, season=1, quantiles=quant)
    return {"mase": float(num.sum() / den.sum()), "wql": float(wq_num.sum() / wq_den.sum()),
            "coverage_80": float(((actual >= quant[0.1]) & (actual <= quant[0.9])).mean()),
            "missing": int(np.isnan(point).sum())}


def _weights(by_group: dict) -> str:
    return "; ".join(f"{group}: " + ", ".join(f"{name} {w:g}" for name, w in weights.items())
                     for group, weights in by_group.items())


def render(rows: list[dict], n_series: int, budget: float) -> str:
    lines = [f"## Forecasting at scale: {n_series:,} daily series of two years (`benchmarks/forecast_scale.py`)", "",
             f"Written on {date.today().isoformat()}; {os.cpu_count()} cores ({cpu_name()}). `make_retail` series "
             f"(ids, date, sales), the last {HORIZON} days held out. labcoat with a budget of {budget:g} s; "
             "statsforecast's AutoETS (season 7, all cores) has no budget: its time is what it took. MASE with "
             "season 1; WQL over the 10%, 50% and 90% quantiles; coverage of [p10, p90].", "",
             "| system | fit s | forecast s | wall s | peak RSS MB | MASE | WQL | 80% coverage | ensemble |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['system']} | failed: {r['error']} | | {r['wall']:.0f} | | | | | |")
            continue
        lines.append(f"| {r['system']} | {r['fit_s']:.0f} | {r['forecast_s']:.1f} | {r['wall']:.0f} | {r['rss_mb']:.0f} "
                     f"| {r['mase']:.4f} | {r['wql']:.4f} | {r['coverage_80']:.1%} | {_weights(r.get('ensemble', {}))} |")
    tried = next((r.get("tried") for r in rows if r["system"] == "labcoat" and "tried" in r), None)
    if tried:
        lines += ["", "labcoat's candidates: " + "; ".join(f"{k}: {v}" for k, v in tried.items()) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10_000, help="number of series (stores x 100 items)")
    parser.add_argument("--budget", type=float, default=600.0, help="labcoat's budget in seconds (default 600)")
    parser.add_argument("--systems", default="labcoat,statsforecast")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from labcoat.datasets import make_retail

    items = min(args.series, 100)
    sales = make_retail(n_stores=max(args.series // items, 1), n_items=items, days=730, seed=0)
    sales = sales[["date", "store", "item", "sales"]]
    cut = sales["date"].max() - pd.Timedelta(days=HORIZON)
    train, test = sales[sales["date"] <= cut], sales[sales["date"] > cut]
    n_series = len(train.groupby(["store", "item"]))
    print(f"{n_series:,} series, {len(train):,} rows", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="labcoat-forecast-scale-") as scratch:
        path = Path(scratch) / "train.parquet"
        train.to_parquet(path)
        for system in args.systems.split(","):
            out = Path(scratch) / f"{system}.parquet"
            row = {"system": system, **run_runner(system, RUNNERS[system], {
                "train": str(path), "out": str(out), "horizon": HORIZON, "budget": args.budget}, out,
                3 * args.budget + 3600)}
            if "error" not in row:
                row.update(scores(pd.read_parquet(out), train, test))
            rows.append(row)
            print(json.dumps(row, default=str), flush=True)
            write_section("forecast_scale", render(rows, n_series, args.budget), args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
