"""Record matching side by side: labcoat (no configuration, no labels), Splink configured by
hand after its own FEBRL examples, and the Python Record Linkage Toolkit's ECM classifier, on
FEBRL 1, 2 and 3 (deduplication) and FEBRL 4 (linking 4a with 4b); then labcoat alone on one
million generated people.

Usage::

    python benchmarks/matching.py                          # the four FEBRL sets, then 1M people
    python benchmarks/matching.py --sets febrl3 --no-scale
    python benchmarks/matching.py --scale-records 200000   # a smaller scale row (quick look)

Each system runs in a process of its own (``_match_runner.py``: labcoat and Splink in this
repository's venv, recordlinkage in a venv of its own under ``benchmarks/.venvs/``, made on
first use: it needs pandas < 3) and writes the pairs it links, at its own threshold: labcoat's
chosen threshold, Splink's match probability 0.5, the ECM classifier's prediction. Every
system's pairs are scored here by one scorer (``labcoat.tasks.match.quality``): pairwise
precision, recall and F1 against the true links the FEBRL ids encode (``rec-N-org`` and
``rec-N-dup-K`` are entity N), with 95% intervals from a bootstrap over the true entities.
Fit seconds: the system's work from the loaded tables to its linked pairs; peak RSS: the
runner process's (reading the data included).

The scale row: ``make_people(1_000_000, seed=0)`` (500,000 duplicates of up to 3 per original)
matched by labcoat with ``budget="10m"``. The issue's targets: F1 at least Splink's on every
FEBRL set; one million records within 10 minutes and 4 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from _results import cpu_name, machine_state, peer_python, run_in_group, write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from labcoat.tasks.match import quality  # noqa: E402

FEBRL = ROOT.parent / "shared" / "datasets" / "matching"
VENVS = HERE / ".venvs"
RUNNER = HERE / "_match_runner.py"
SETS = {"febrl1": ("febrl1.csv", None), "febrl2": ("febrl2.csv", None), "febrl3": ("febrl3.csv", None),
        "febrl4": ("febrl4a.csv", "febrl4b.csv")}
SYSTEMS = ("labcoat", "labcoat-spark", "splink", "recordlinkage")
#: the recordlinkage venv's pinned packages (it needs pandas < 3)
PEERS = {"recordlinkage": ["recordlinkage==0.16", "pandas==2.3.3", "numpy==2.4.6", "scikit-learn==1.9.1",
                           "scipy==1.17.1", "jellyfish==1.3.0", "joblib==1.6.0"]}
SCALE_BUDGET = "10m"
TARGET_SECONDS, TARGET_MB = 600, 4096


def python_for(system: str) -> Path:
    """The interpreter of ``system``: this one for labcoat and Splink, else its venv (made on first use)."""
    if system not in PEERS:
        return Path(sys.executable)
    return peer_python(VENVS / f"match-{system}", PEERS[system])


def run_system(system: str, task: dict, out: Path, timeout: float) -> dict:
    """Run ``_match_runner.py`` for ``system`` on ``task``: its report and the wall seconds, or the error."""
    task_file = out.with_suffix(".task.json")
    task_file.write_text(json.dumps({**task, "system": system, "out": str(out)}))
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": str(ROOT / "src") if system.startswith("labcoat") else ""}
    started = time.monotonic()
    done = run_in_group([str(python_for(system)), str(RUNNER), str(task_file)], timeout=timeout, env=env)
    wall = time.monotonic() - started
    if done is None:
        return {"error": f"stopped after {timeout:.0f} s", "wall": wall}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:200], "wall": wall}
    return {**json.loads(Path(str(out) + ".json").read_text()), "wall": wall}


def truth_of(records: pd.DataFrame, other: pd.DataFrame | None) -> tuple[pd.Series, pd.Series | None]:
    """Each record's true entity from its FEBRL id (the first table's, and the second's)."""
    def entities(frame: pd.DataFrame) -> pd.Series:
        ids = frame["rec_id"].astype(str).str.strip()
        found = quality.entities_from_ids(ids)
        assert found is not None, "ids do not encode the true entities"
        return pd.Series(found.to_numpy(), index=ids.to_numpy())
    return entities(records), None if other is None else entities(other)


def score(pairs: pd.DataFrame, truth_a: pd.Series, truth_b: pd.Series | None) -> dict:
    """Pairwise precision, recall and F1 (value, low, high) of the linked ``pairs``, each pair
    counted once (and, when linking, oriented first table first)."""
    a, b = pairs["id_a"].astype(str).str.strip(), pairs["id_b"].astype(str).str.strip()
    if truth_b is None:
        a, b = a.where(a < b, b), b.where(a < b, a)
    else:
        flip = ~a.isin(truth_a.index)
        a, b = a.where(~flip, b), b.where(~flip, a)
    clean = pd.DataFrame({"id_a": a, "id_b": b})
    clean = clean[clean["id_a"] != clean["id_b"]].drop_duplicates()
    return {**quality.pairwise_quality(clean, truth_a, truth_b), "true_pairs": quality.true_pair_count(truth_a, truth_b),
            "scored_pairs": len(clean)}


def run_febrl(name: str, systems: list[str], scratch: Path, timeout: float) -> dict:
    first, second = SETS[name]
    records = pd.read_csv(FEBRL / first, skipinitialspace=True, dtype=str)
    other = pd.read_csv(FEBRL / second, skipinitialspace=True, dtype=str) if second else None
    truth_a, truth_b = truth_of(records, other)
    facts = {"set": name, "task": "link 4a with 4b" if other is not None else "deduplicate",
             "records": len(records) + (len(other) if other is not None else 0),
             "true_pairs": quality.true_pair_count(truth_a, truth_b), "state_before": machine_state()}
    print(json.dumps(facts), flush=True)
    task = {"records": str(FEBRL / first), "other": str(FEBRL / second) if second else None, "budget": None}
    results = {}
    for system in systems:
        out = scratch / f"{name}-{system}.csv"
        info = run_system(system, task, out, timeout)
        if "error" not in info:
            info.update(score(pd.read_csv(out, dtype=str), truth_a, truth_b))
        results[system] = info
        print(system, json.dumps({k: v for k, v in info.items() if k != "blocking"}, default=str), flush=True)
    facts["state_after"] = machine_state()
    return {"facts": facts, "results": results}


def run_scale(n_records: int, scratch: Path, timeout: float) -> dict:
    from labcoat.datasets import make_people

    people = make_people(n_records, seed=0)
    path = scratch / f"people-{n_records}.parquet"
    people.to_parquet(path)
    truth_a, _ = truth_of(people, None)
    del people
    facts = {"set": f"make_people({n_records:_})", "records": n_records,
             "true_pairs": quality.true_pair_count(truth_a), "state_before": machine_state()}
    print(json.dumps(facts), flush=True)
    out = scratch / "people-labcoat.csv"
    info = run_system("labcoat", {"records": str(path), "other": None, "budget": SCALE_BUDGET}, out, timeout)
    if "error" not in info:
        info.update(score(pd.read_csv(out, dtype=str), truth_a, None))
    print("labcoat", json.dumps({k: v for k, v in info.items() if k != "blocking"}, default=str), flush=True)
    facts["state_after"] = machine_state()
    return {"facts": facts, "results": {"labcoat": info}}


def cell(r: dict, name: str) -> str:
    value, low, high = r[name]
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def render(runs: list[dict], scale: dict | None) -> str:
    lines = ["## Record matching: labcoat vs hand-configured Splink and recordlinkage's ECM (`benchmarks/matching.py`)",
             "", f"Written on {date.today().isoformat()}; {os.cpu_count()} cores ({cpu_name()}); one run, each system in "
             "a process of its own, one after another. labcoat: `labcoat.match(records[, other], id_column=\"rec_id\")` "
             "with its default budget (2 min) and nothing else; labcoat-spark the same with `backend=\"spark\", "
             "spark=\"local[2]\"` (Splink's Spark back end on a local Spark of 2 cores, started within fit s). "
             "Splink 5 (DuckDB), configured as its own FEBRL notebooks "
             "do: for deduplication the febrl3 notebook's blocking rules (social security id, given name, surname, date "
             "of birth, postcode), comparisons (name comparisons, date of birth, Damerau-Levenshtein on the id, exact "
             "street number and postcode with term frequencies), prior from deterministic rules at recall 0.9, u from 1M "
             "random pairs, EM blocked on date of birth then postcode; for linking the febrl4 notebook's detailed model "
             "(its seven blocking rules, prior at recall 0.8); pairs linked at match probability 0.5. recordlinkage "
             "0.16: the toolkit's FEBRL example's blocks (given name, surname, social security id) and binary "
             "comparisons (exact, or Jaro-Winkler >= 0.85) with its ECM classifier's own prediction. Every system's pairs "
             "scored by one scorer against the true links in the ids; 95% intervals from a bootstrap over the true "
             "entities. Fit s: from the loaded tables to the linked pairs; peak RSS: the system's process."]
    for run in runs:
        f = run["facts"]
        lines += ["", f"**{f['set']}** ({f['task']}): {f['records']:,} records, {f['true_pairs']:,} true matching pairs. "
                  f"Machine before: {f['state_before']}; after: {f['state_after']}.", "",
                  "| system | precision [95% CI] | recall [95% CI] | F1 [95% CI] | linked pairs | fit s | peak RSS MB | "
                  "notes |", "|---|---|---|---|---:|---:|---:|---|"]
        for system, r in run["results"].items():
            if "error" in r:
                lines.append(f"| {system} | failed: {r['error']} | | | | {r.get('wall', 0):.0f} | | |")
                continue
            lines.append(f"| {system} {r.get('version', '')} | {cell(r, 'precision')} | {cell(r, 'recall')} | "
                         f"{cell(r, 'f1')} | {r['scored_pairs']:,} | {r['fit_seconds']:.1f} | {r['peak_rss_mb']:.0f} | "
                         f"{notes(system, r)} |")
    if runs:
        lines += ["", "Target: labcoat's F1 at least the hand-configured Splink's on every FEBRL set."]
        for run in runs:
            r = run["results"]
            if "f1" in r.get("labcoat", {}) and "f1" in r.get("splink", {}):
                ours, theirs = r["labcoat"]["f1"][0], r["splink"]["f1"][0]
                lines.append(f"- {run['facts']['set']}: labcoat {ours:.4f}, Splink {theirs:.4f}: "
                             f"{'met' if ours >= theirs else 'NOT met'} ({ours - theirs:+.4f}).")
    if scale:
        f, r = scale["facts"], scale["results"]["labcoat"]
        lines += ["", f"**Scale: {f['set']}**, deduplicated by labcoat with `budget=\"{SCALE_BUDGET}\"`: "
                  f"{f['records']:,} records, {f['true_pairs']:,} true matching pairs. Machine before: "
                  f"{f['state_before']}; after: {f['state_after']}.", ""]
        if "error" in r:
            lines.append(f"Failed after {r.get('wall', 0):.0f} s: {r['error']}")
        else:
            ok_time, ok_memory = r["fit_seconds"] <= TARGET_SECONDS, r["peak_rss_mb"] <= TARGET_MB
            lines += ["| precision [95% CI] | recall [95% CI] | F1 [95% CI] | linked pairs | compared pairs | fit s | "
                      "peak RSS MB | notes |", "|---|---|---|---:|---:|---:|---:|---|",
                      f"| {cell(r, 'precision')} | {cell(r, 'recall')} | {cell(r, 'f1')} | {r['scored_pairs']:,} | "
                      f"{r.get('compared_pairs', 0):,} | {r['fit_seconds']:.1f} | {r['peak_rss_mb']:.0f} | "
                      f"{notes('labcoat', r)} |", "",
                      f"Target: 1M records within {TARGET_SECONDS} s ({'met' if ok_time else 'NOT met'}) and "
                      f"{TARGET_MB / 1024:.0f} GB peak RSS ({'met' if ok_memory else 'NOT met'}); the peak includes "
                      "the generated table read from parquet."]
    return "\n".join(lines)


def notes(system: str, r: dict) -> str:
    parts = []
    if system.startswith("labcoat"):
        parts.append(f"threshold {r['threshold']:.3f}; blocking {', '.join(r['blocking'])}; "
                     f"{r.get('compared_pairs', 0):,} pairs compared; {r.get('blocking_lost', '?')} true pairs never "
                     f"compared; budget {r.get('budget', 0):.0f} s "
                     f"{'exceeded, with a notice' if r.get('over_budget') else 'kept'}")
    elif system == "splink":
        parts.append(f"threshold {r['threshold']}")
    else:
        parts.append(f"{r.get('compared_pairs', 0):,} pairs compared; estimated prior {r.get('prior', 0):.4f}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--no-scale", action="store_true", help="skip the 1M-record labcoat row")
    parser.add_argument("--scale-records", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds after which a system is stopped")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    runs: list[dict] = []
    scale = None
    with tempfile.TemporaryDirectory(prefix="labcoat-matching-bench-") as scratch:
        for name in [s for s in args.sets.split(",") if s]:
            if not (FEBRL / SETS[name][0]).exists():
                print(f"skip {name}: {FEBRL / SETS[name][0]} not found", flush=True)
                continue
            runs.append(run_febrl(name, args.systems.split(","), Path(scratch), args.timeout))
            write_section("matching", render(runs, scale), args.out)
        if not args.no_scale:
            scale = run_scale(args.scale_records, Path(scratch), args.timeout)
            write_section("matching", render(runs, scale), args.out)
    print("\n" + render(runs, scale) + f"\n\nwrote {args.out}")


if __name__ == "__main__":
    main()
