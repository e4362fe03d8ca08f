"""Drift detection benchmark: speed and memory on a large Parquet file, detectors' error rates in
simulation, and agreement of per-column verdicts with Evidently.

1. **Scale**: a 50,000-row reference of 50 columns (25 numeric, 25 categorical) and a current
   window of 1,000,000 rows written to Parquet; ``detect_drift`` reads it in chunks of 100,000
   rows through ``labcoat.batch``'s DuckDB reader, in a fresh process (median of 3 runs; peak
   RSS = ``VmHWM``), then on the file thrice (memory should stay flat), and once reading
   the whole file into one frame first.
2. **Simulation** (``tests/test_drift.py``'s, 200 repetitions): false alarms on samples of one
   population and detection of planted shifts, reference of 800 and 20,000 rows, 5,000 current.
3. **Evidently** (0.7.x, the ``bench`` extra, in its own venv ``benchmarks/.venvs/evidently``:
   its pins need plotly < 6 and pandas < 3, which labcoat's venv does not have) on the same data:
   20 columns with planted shifts of several sizes, references of 600 and 20,000 rows, 5,000
   current rows, 10 repetitions each; and a 100,000-row sample of the scale data.

Run: ``.venv/bin/python benchmarks/drift.py [--rows 1000000] [--repeats 10]``; writes the
``drift`` section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _results import write_section  # noqa: E402

WORK = HERE / ".work" / "drift"
VENV = HERE / ".venvs" / "evidently"
#: Installed into Evidently's venv before it: evidently 0.7.23 fails to import under pandas 3.
EVIDENTLY_PRE = ["pandas<3", "pyarrow"]
CHUNK_ROWS = 100_000
REF_ROWS = 50_000
N_COLUMNS = 50


# ---------------------------------------------------------------------- 1. scale
def scale_frame(rng: np.random.Generator, n: int, *, shifted: bool) -> pd.DataFrame:
    """25 numeric columns of four shapes (2% missing) and 25 categorical ones (5 to 40 levels,
    Zipf-like shares); ``shifted`` moves 5 of each."""
    cols: dict[str, np.ndarray] = {}
    for j in range(N_COLUMNS // 2):
        shape = j % 4
        x = (rng.normal(j, 1 + j % 3, n) if shape == 0 else rng.lognormal(0, 0.5 + j % 3 / 4, n) if shape == 1
             else rng.uniform(0, 10 * (j + 1), n) if shape == 2 else rng.poisson(20 + j, n).astype(float))
        if shifted and j < 5:
            x = x + 0.3 * np.nanstd(x)
        x[rng.random(n) < 0.02] = np.nan
        cols[f"num_{j:02d}"] = x
    for j in range(N_COLUMNS // 2):
        levels = 5 + (j * 7) % 36
        shares = 1 / np.arange(1, levels + 1) ** 0.8
        if shifted and j < 5:
            shares[-1] *= 8
        names = np.array([f"c{j}_{i}" for i in range(levels)])
        cols[f"cat_{j:02d}"] = names[rng.choice(levels, n, p=shares / shares.sum())]
    return pd.DataFrame(cols)


def scale_schema(frame: pd.DataFrame):
    from labcoat.data.columns import Column, Role
    from labcoat.data.schema import Schema

    return Schema(target="y", task="binary", classes=[0, 1], columns=[
        Column(name, Role.NUMERIC if name.startswith("num") else Role.CATEGORICAL, str(frame[name].dtype), 0.0, 0)
        for name in frame.columns])


def write_scale_data(rows: int) -> tuple[Path, Path, dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labcoat.monitoring.reference import build_reference

    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    train = scale_frame(rng, REF_ROWS, shifted=False)
    start = time.perf_counter()
    reference = build_reference(train, scale_schema(train), predictions=rng.beta(2, 5, REF_ROWS))
    build_seconds = time.perf_counter() - start
    ref_path, data_path = WORK / "reference.json", WORK / "current.parquet"
    ref_path.write_text(reference.to_json())
    train.to_parquet(WORK / "reference.parquet", index=False)
    writer = None
    for i in range(0, rows, CHUNK_ROWS):
        part = scale_frame(rng, min(CHUNK_ROWS, rows - i), shifted=True)
        part["prediction"] = rng.beta(2.2, 5, len(part))
        table = pa.Table.from_pandas(part, preserve_index=False)
        writer = writer or pq.ParquetWriter(data_path, table.schema)
        writer.write_table(table)
    writer.close()
    return ref_path, data_path, {"build_seconds": build_seconds, "reference_kb": ref_path.stat().st_size / 1024}


def child(ref_path: str, data_path: str, mode: str) -> None:
    """Runs in a fresh process: time ``detect_drift`` on the file, streamed or whole."""
    from labcoat.batch import _chunks
    from labcoat.monitoring.drift import detect_drift
    from labcoat.monitoring.reference import Reference

    reference = Reference.from_dict(json.loads(Path(ref_path).read_text()))
    before = peak_rss_mb()
    start = time.perf_counter()
    current = _chunks(Path(data_path), CHUNK_ROWS) if mode == "streamed" else pd.read_parquet(data_path)
    report = detect_drift(reference, current, predictions="prediction")
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "before_mb": before, "peak_mb": peak_rss_mb(),
                      "rows": report.current_rows, "drifted": report.drifted,
                      "prediction_drifted": report.prediction.drifted}))


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``: ``getrusage``'s ``ru_maxrss`` would start
    from the parent's peak, which Linux carries over fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(ref_path: Path, data_path: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(ref_path), str(data_path), mode],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- 3. Evidently
#: column -> (kind, shift): the 20 columns of the agreement scenario.
SCENARIO = {
    "n_same": ("numeric", "none (5% missing)"), "n_mean_0.02": ("numeric", "mean +0.02 sd"),
    "n_mean_0.05": ("numeric", "mean +0.05 sd"), "n_mean_0.1": ("numeric", "mean +0.1 sd"),
    "n_mean_0.2": ("numeric", "mean +0.2 sd"), "n_mean_0.5": ("numeric", "mean +0.5 sd"),
    "n_scale_1.1": ("numeric", "sd x1.1"), "n_scale_1.3": ("numeric", "sd x1.3"),
    "n_skew_same": ("numeric", "none (lognormal)"), "n_skew_shift": ("numeric", "lognormal, log +0.1"),
    "n_few_same": ("numeric", "none (4 values)"), "n_few_shift": ("numeric", "4 values, one share +0.05"),
    "c_same": ("categorical", "none (shares .4/.3/.2/.1)"), "c_double_10": ("categorical", "10% share doubled"),
    "c_double_20": ("categorical", "20% share doubled"), "c_x1.25": ("categorical", "20% share x1.25"),
    "c_new_2": ("categorical", "new category at 2%"), "c_new_10": ("categorical", "new category at 10%"),
    "b_same": ("categorical", "none (2 values, 30/70)"), "b_shift": ("categorical", "2 values, 30% -> 35%"),
}
SHARES = np.array([0.4, 0.3, 0.2, 0.1])


def scenario_frame(rng: np.random.Generator, n: int, *, current: bool) -> pd.DataFrame:
    def cats(shares: np.ndarray, names: list[str]) -> np.ndarray:
        return np.array(names)[rng.choice(len(names), n, p=shares / shares.sum())]

    def doubled(i: int) -> np.ndarray:
        s = SHARES * (1 - 2 * SHARES[i]) / (1 - SHARES[i])
        s[i] = 2 * SHARES[i]
        return s

    def new(share: float) -> np.ndarray:
        out = cats(SHARES, list("abcd"))
        out[rng.random(n) < share] = "new"
        return out

    c = current
    same = rng.normal(0, 1, n)
    same[rng.random(n) < 0.05] = np.nan
    few = np.array([0.4, 0.3, 0.2, 0.1]) + (np.array([-0.05, 0, 0.05, 0]) if c else 0)
    frame = {
        "n_same": same, **{f"n_mean_{d}": rng.normal(d if c else 0, 1, n) for d in (0.02, 0.05, 0.1, 0.2, 0.5)},
        "n_scale_1.1": rng.normal(0, 1.1 if c else 1, n), "n_scale_1.3": rng.normal(0, 1.3 if c else 1, n),
        "n_skew_same": rng.lognormal(0, 1, n), "n_skew_shift": rng.lognormal(0.1 if c else 0, 1, n),
        "n_few_same": rng.choice([1.0, 2.0, 3.0, 4.0], n, p=SHARES),
        "n_few_shift": rng.choice([1.0, 2.0, 3.0, 4.0], n, p=few),
        "c_same": cats(SHARES, list("abcd")),
        "c_double_10": cats(doubled(3) if c else SHARES, list("abcd")),
        "c_double_20": cats(doubled(2) if c else SHARES, list("abcd")),
        "c_x1.25": cats(SHARES * np.array([0.95, 0.95, 1.25, 0.95]) if c else SHARES, list("abcd")),
        "c_new_2": new(0.02 if c else 0.0), "c_new_10": new(0.10 if c else 0.0),
        "b_same": cats(np.array([0.3, 0.7]), ["yes", "no"]),
        "b_shift": cats(np.array([0.35, 0.65]) if c else np.array([0.3, 0.7]), ["yes", "no"]),
    }
    return pd.DataFrame(frame)


def evidently_python() -> Path:
    """The interpreter of Evidently's venv, made on first use from the ``bench`` extra."""
    python, stamp = VENV / "bin" / "python", VENV / ".installed"
    if not stamp.exists():
        requirement = next(r for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                           ["optional-dependencies"]["bench"] if r.startswith("evidently"))
        print(f"creating {VENV} (first run only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run(pip + EVIDENTLY_PRE, check=True)
        subprocess.run(pip + [requirement, *EVIDENTLY_PRE], check=True)
        stamp.touch()
    return python


def run_evidently(jobs: list[dict]) -> dict:
    jobs_path, out_path = WORK / "evidently_jobs.json", WORK / "evidently_out.json"
    jobs_path.write_text(json.dumps(jobs))
    subprocess.run([str(evidently_python()), str(HERE / "_evidently_runner.py"), str(jobs_path), str(out_path)],
                   check=True)
    return json.loads(out_path.read_text())


def ours(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[dict, float]:
    from labcoat.data.columns import Column, Role
    from labcoat.data.schema import Schema
    from labcoat.monitoring.drift import detect_drift
    from labcoat.monitoring.reference import build_reference

    schema = Schema(target="y", task="binary", classes=[0, 1], columns=[
        Column(name, Role.NUMERIC if pd.api.types.is_float_dtype(ref[name]) else Role.CATEGORICAL, "", 0.0, 0)
        for name in ref.columns])
    start = time.perf_counter()
    report = detect_drift(build_reference(ref, schema), cur)
    seconds = time.perf_counter() - start
    return {c.name: {"method": c.method, "drifted": c.drifted} for c in report.columns}, seconds


def agreement(repeats: int) -> tuple[list[dict], dict]:
    jobs, mine = [], {}
    for ref_rows in (600, 20_000):
        for r in range(repeats):
            rng = np.random.default_rng(1000 * ref_rows + r)
            ref, cur = scenario_frame(rng, ref_rows, current=False), scenario_frame(rng, 5000, current=True)
            name = f"{ref_rows}-{r}"
            ref.to_parquet(WORK / f"{name}-ref.parquet", index=False)
            cur.to_parquet(WORK / f"{name}-cur.parquet", index=False)
            mine[name] = ours(ref, cur)[0]
            jobs.append({"name": name, "reference": str(WORK / f"{name}-ref.parquet"),
                         "current": str(WORK / f"{name}-cur.parquet"),
                         "numerical": [c for c, (k, _) in SCENARIO.items() if k == "numeric"],
                         "categorical": [c for c, (k, _) in SCENARIO.items() if k == "categorical"]})
    # The scale data: 50 columns, 50,000 reference rows against the first 100,000 current rows.
    ref = pd.read_parquet(WORK / "reference.parquet")
    cur = pd.read_parquet(WORK / "current.parquet").iloc[:CHUNK_ROWS].drop(columns="prediction")
    cur.to_parquet(WORK / "sample-cur.parquet", index=False)
    mine["sample"], our_seconds = ours(ref, cur)
    jobs.append({"name": "sample", "reference": str(WORK / "reference.parquet"),
                 "current": str(WORK / "sample-cur.parquet"),
                 "numerical": [c for c in ref.columns if c.startswith("num")],
                 "categorical": [c for c in ref.columns if c.startswith("cat")]})
    theirs = run_evidently(jobs)
    rows = []
    by_job = {r["job"]: r for r in theirs["results"]}
    for ref_rows in (600, 20_000):
        names = [f"{ref_rows}-{r}" for r in range(repeats)]
        for column, (_, shift) in SCENARIO.items():
            a = [mine[n][column]["drifted"] for n in names]
            b = [by_job[n]["columns"][column]["drifted"] for n in names]
            rows.append({"ref_rows": ref_rows, "column": column, "shift": shift,
                         "ours": mine[names[0]][column]["method"],
                         "evidently": by_job[names[0]]["columns"][column]["method"],
                         "ours_rate": np.mean(a), "evidently_rate": np.mean(b),
                         "agree": np.mean(np.array(a) == np.array(b))})
    sample = by_job["sample"]
    same = [mine["sample"][c]["drifted"] == v["drifted"] for c, v in sample["columns"].items()]
    extra = {"version": theirs["version"], "sample_agree": float(np.mean(same)), "sample_columns": len(same),
             "sample_ours_seconds": our_seconds, "sample_evidently_seconds": sample["seconds"],
             "sample_ours_drifted": sum(v["drifted"] for v in mine["sample"].values()),
             "sample_evidently_drifted": sum(v["drifted"] for v in sample["columns"].values())}
    return rows, extra


# ---------------------------------------------------------------------- report
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.child:
        child(*args.child)
        return 0
    import labcoat

    ref_path, data_path, built = write_scale_data(args.rows)
    mib = data_path.stat().st_size / 2**20
    streamed = [run_child(ref_path, data_path, "streamed") for _ in range(3)]
    whole = run_child(ref_path, data_path, "whole")
    triple = WORK / "current3.parquet"  # the file thrice: memory should not grow with the rows
    import duckdb

    duckdb.sql(f"copy (select * from read_parquet(['{data_path}', '{data_path}', '{data_path}'])) to "
               f"'{triple}' (format parquet, row_group_size {CHUNK_ROWS})")
    longer = run_child(ref_path, triple, "streamed")
    seconds = statistics.median(r["seconds"] for r in streamed)
    peak = max(r["peak_mb"] for r in streamed)
    print(f"scale: {seconds:.2f} s, peak {peak:.0f} MB (whole frame: {whole['seconds']:.2f} s, {whole['peak_mb']:.0f} MB)")

    sys.path.insert(0, str(ROOT / "tests"))
    from test_drift import CURRENT_ROWS, LARGE_REF, SMALL_REF, simulate

    sim = {(rows, d): simulate(rows, repeats=200, seed=1, doubled=d) for rows in (SMALL_REF, LARGE_REF) for d in "cd"}
    rows, extra = agreement(args.repeats)
    for r in rows:
        print(r)
    print(extra)

    cores = os.cpu_count()
    lines = [
        "## Drift detection (`benchmarks/drift.py`)",
        "",
        f"Written by `benchmarks/drift.py` on {time.strftime('%Y-%m-%d')}: labcoat {labcoat.__version__}, "
        f"{cores} cores, Python {sys.version.split()[0]}.",
        "",
        f"**Scale.** Reference of {REF_ROWS:,} rows × {N_COLUMNS} columns (25 numeric of four shapes with 2% "
        f"missing, 25 categorical of 5 to 40 levels) and its prediction: built in {built['build_seconds']:.2f} s, "
        f"`reference.json` {built['reference_kb']:.0f} KB. Current window: {args.rows:,} rows of Parquet "
        f"({mib:,.0f} MiB; 5 numeric and 5 categorical columns and the prediction shifted), read by "
        f"`labcoat.batch`'s DuckDB reader in chunks of {CHUNK_ROWS:,} rows, each chunk reduced to counts, in a "
        "fresh process. Time = reading + all tests; peak RSS of that process (Python and the libraries take "
        f"{streamed[0]['before_mb']:.0f} MB before the first chunk).",
        "",
        "| rows × columns | time (median of 3) | rows/s | peak RSS | target |",
        "| --- | --- | --- | --- | --- |",
        f"| {args.rows:,} × {N_COLUMNS} + prediction | {seconds:.2f} s | {args.rows / seconds:,.0f} | {peak:.0f} MB "
        f"| ≤ 10 s: {'met' if seconds <= 10 else 'missed'} |",
        f"| {3 * args.rows:,} × {N_COLUMNS} + prediction (the file thrice) | {longer['seconds']:.2f} s | "
        f"{3 * args.rows / longer['seconds']:,.0f} | {longer['peak_mb']:.0f} MB | peak {longer['peak_mb'] / peak:.2f}× "
        "the 1,000,000-row one |",
        f"| {args.rows:,}, whole file read into one frame first | {whole['seconds']:.2f} s | "
        f"{args.rows / whole['seconds']:,.0f} | {whole['peak_mb']:.0f} MB | (for comparison) |",
        "",
        f"Verdicts: {len(streamed[0]['drifted'])} columns drifted ({', '.join(streamed[0]['drifted'])}); "
        f"prediction drifted: {streamed[0]['prediction_drifted']}.",
        "",
        f"**Simulation** (`tests/test_drift.py`, 200 repetitions, seed 1; {CURRENT_ROWS:,} current rows; 8 "
        "columns: 4 numeric, 3 categorical, 1 numeric with 5% missing). False alarms on samples of one "
        "population: dataset-level (share of drifted columns ≥ 0.5) and per column (distribution tests; "
        "missing-rate rises counted apart on the column with missing values). Detection of a planted shift "
        "= its column's verdict (the missing rate's rise for missing values).",
        "",
        "| reference rows | dataset false alarms | column false alarms | missing-rise false alarms | "
        "mean +0.5 sd | 20% share doubled | 10% share doubled | new category at 10% | +20% missing |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n in (SMALL_REF, LARGE_REF):
        c, d = sim[(n, "c")], sim[(n, "d")]
        twenty, ten = c["share of 'c' doubled"], d["share of 'd' doubled"]
        lines.append(f"| {n:,} | {c['dataset false alarms']:.1%} | {c['column false alarms']:.1%} | "
                     f"{c['missing-rise false alarms']:.1%} | {c['mean shift 0.5 sd']:.1%} | {twenty:.1%} | "
                     f"{ten:.1%} | {c['new category at 10%']:.1%} | {c['20% more missing']:.1%} |")
    lines += [
        "",
        "With more than 1,000 reference rows the default test of categories is Evidently's Jensen-Shannon "
        "distance ≥ 0.1, which does not grow with the rows: doubling a 10% share moves it to 0.0998, so that "
        "shift is caught about half the time however large the window (`DriftOptions` can set another test).",
        "",
        f"**Agreement with Evidently {extra['version']}** (its defaults, `Report([DataDriftPreset()])`, "
        f"columns typed alike) on the same samples: 20 columns with planted shifts, 5,000 current rows, "
        f"{args.repeats} repetitions per reference size. Rates are the share of repetitions flagged.",
        "",
    ]
    for n in (600, 20_000):
        part = [r for r in rows if r["ref_rows"] == n]
        other = [r["agree"] for r in part if r["ours"] != "chisquare"]
        lines += [f"Reference {n:,} rows: verdicts agree on {np.mean([r['agree'] for r in part]):.1%} of "
                  f"{len(part) * args.repeats} column tests ({np.mean(other):.1%} on the {len(other)} columns not "
                  "tested by chi-squared).", "",
                  "| column | shift | labcoat | Evidently | labcoat drift | Evidently drift | agree |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {r['column']} | {r['shift']} | {r['ours']} | {r['evidently']} | {r['ours_rate']:.0%} | "
                  f"{r['evidently_rate']:.0%} | {r['agree']:.0%} |" for r in part]
        lines.append("")
    lines += [
        f"On the scale data ({REF_ROWS:,} reference rows against the first {CHUNK_ROWS:,} current rows, "
        f"{extra['sample_columns']} columns) the verdicts agree on {extra['sample_agree']:.0%} of the columns "
        f"(labcoat {extra['sample_ours_drifted']} drifted, Evidently {extra['sample_evidently_drifted']}); "
        f"Evidently took {extra['sample_evidently_seconds']:.1f} s, labcoat {extra['sample_ours_seconds']:.2f} s "
        "(reference built from the frame included).",
        "",
        "Where they differ, by design: labcoat's `chisquare` is a two-sample test of homogeneity, Evidently's a "
        "goodness-of-fit test that takes the reference's shares as exact, so with 600 reference rows against "
        "5,000 current ones it flags unchanged categorical columns far more often than 5%; numbers with ≤ 5 "
        "values are tested as categories in both. See `labcoat/monitoring/stattests.py`.",
    ]
    text = "\n".join(lines)
    print(text)
    write_section("drift", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
