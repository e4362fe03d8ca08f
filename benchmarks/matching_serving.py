"""``POST /match`` latency of a served match model: one new record, its 5 best candidates, one
request at a time.

Usage::

    python benchmarks/matching_serving.py            # FEBRL3 (5,000 records)

FEBRL3 (``../shared/datasets/matching/febrl3.csv``; else ``make_people(5000)``) is matched by
labcoat (budget 1 minute), saved, and served by ``labcoat serve`` (one uvicorn worker); 20
warm-up requests, then 300 records in turn (FEBRL3's own records without their ids, one in
three with a field left out), timed at the client (the answer read and parsed). In process,
the same records through ``model.find`` and through Splink's ``predict_between`` (what
``find`` called before). Figures: p50 and p99 in milliseconds, into ``benchmarks/RESULTS.md``
(section ``matching_serving``). The issue's target: p50 ≤ 50 ms through the service.
"""
from __future__ import annotations

import json
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from _results import cpu_name, write_section
from _serving import post, serving

ROOT = Path(__file__).resolve().parents[1]
FEBRL = ROOT.parent / "shared" / "datasets" / "matching" / "febrl3.csv"
REQUESTS, WARM_UP = 300, 20


def records() -> tuple[str, pd.DataFrame]:
    if FEBRL.exists():
        return "FEBRL3", pd.read_csv(FEBRL, skipinitialspace=True, dtype=str)
    from labcoat.datasets import make_people

    return "make_people(5000)", make_people(5000, seed=0)


def new_records(frame: pd.DataFrame, n: int) -> list[dict]:
    """``n`` of the records as new ones: no id, one in three with a field left out."""
    rng = np.random.default_rng(0)
    chosen = frame.sample(n, random_state=0).drop(columns="rec_id")
    out = []
    for i, row in enumerate(json.loads(chosen.to_json(orient="records"))):
        if i % 3 == 0:
            row.pop(str(rng.choice(list(row))))
        out.append(row)
    return out


def served(folder: Path, asked: list[dict]) -> np.ndarray:
    """Milliseconds of each request to a fresh ``labcoat serve`` of ``folder``."""
    with serving(folder, folder.with_suffix(".db")) as port:
        for record in asked[:WARM_UP]:
            post(port, "/match", {"record": record, "k": 5})
        out = []
        for record in asked:
            started = time.perf_counter()
            post(port, "/match", {"record": record, "k": 5})
            out.append((time.perf_counter() - started) * 1000)
        return np.array(out)


def in_process(model, asked: list[dict], splink: bool) -> np.ndarray:
    from labcoat.tasks.match.find import best_candidates_splink

    out = []
    for record in asked:
        started = time.perf_counter()
        if splink:
            best_candidates_splink(model, model._clean_new(pd.DataFrame([record]), None), 5)
        else:
            model.find(pd.DataFrame([record]), k=5)
        out.append((time.perf_counter() - started) * 1000)
    return np.array(out)


def main() -> None:
    import labcoat

    warnings.simplefilter("ignore")
    name, frame = records()
    asked = new_records(frame, REQUESTS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="labcoat-match-serving-") as scratch:
        model = labcoat.match(frame, id_column="rec_id", budget="1m", track=False, quiet=True)
        folder = model.save(Path(scratch) / "model")
        for how, ms in [("`POST /match` (labcoat serve, 1 worker)", served(folder, asked)),
                        ("`model.find` in process", in_process(model, asked[:WARM_UP] + asked, False)[WARM_UP:]),
                        ("Splink `predict_between` in process (before)", in_process(model, asked, True))]:
            rows.append({"how": how, "p50": float(np.median(ms)), "p99": float(np.percentile(ms, 99))})
            print(rows[-1], flush=True)
    lines = ["## Serving record matching: `POST /match` latency (`benchmarks/matching_serving.py`)", "",
             f"Written on {date.today().isoformat()}; {cpu_name()}. {name} ({len(frame):,} records) matched with "
             f"a budget of 1 minute; {REQUESTS} of its records asked for as new ones (no id, one in three with a "
             f"field left out), one record and its 5 best candidates a request, one request at a time after "
             f"{WARM_UP} warm-up requests, timed at the client. Target: p50 ≤ 50 ms through the service.", "",
             "| how | p50 ms | p99 ms |", "|---|---:|---:|"]
    lines += [f"| {r['how']} | {r['p50']:.2f} | {r['p99']:.2f} |" for r in rows]
    write_section("matching_serving", "\n".join(lines))


if __name__ == "__main__":
    main()
