"""``POST /predict`` latency of a served anomaly model: one row (score, flag and reasons), one
request at a time.

Usage::

    python benchmarks/anomaly_serving.py

``make_transactions(20_000)`` (the labels column dropped) is fitted by labcoat with every
detector (budget 1 minute), saved and served by ``labcoat serve`` (one uvicorn worker); 20
warm-up requests, then 300 rows in turn (rows of a second draw of ``make_transactions``, the
most unusual ones included), timed at the client (the answer read and parsed). In process, the
same rows through ``model.predict`` one at a time, and 100,000 rows through ``model.score`` at
once (the issue's "scoring 100,000 rows in <= 2 s"). The same for a model of the isolation
forest alone (``fit_anomaly(..., candidates=["iforest"])``), next to PyOD's own ``IForest.decision_function`` on
one row. Figures into ``benchmarks/RESULTS.md``
(section ``anomaly_serving``). The issue's target: p50 <= 10 ms through the service.
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

REQUESTS, WARM_UP, TRAIN_ROWS, LABELS = 300, 20, 20_000, "is_fraud"


def served(folder: Path, asked: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds of each request to a fresh ``labcoat serve`` of ``folder``, and whether
    each answer flagged its row (a flagged row is answered with its reasons too)."""
    with serving(folder, folder.with_suffix(".db")) as port:
        for row in asked[:WARM_UP]:
            post(port, "/predict", {"rows": [row]})
        out, flags = [], []
        for row in asked:
            started = time.perf_counter()
            answer = post(port, "/predict", {"rows": [row]})
            out.append((time.perf_counter() - started) * 1000)
            flags.append(bool(answer["predictions"][0]["is_anomaly"]))
        return np.array(out), np.array(flags)


def in_process(model, asked: list[dict]) -> np.ndarray:
    out = []
    for row in asked:
        frame = pd.DataFrame([row])
        started = time.perf_counter()
        model.predict(frame)
        out.append((time.perf_counter() - started) * 1000)
    return np.array(out)


def timed(model, asked: list[dict], label: str, rows: list[dict]) -> tuple[int, float]:
    """Rows of the table for ``model`` (served, flagged or not, in process) appended to ``rows``;
    the flagged rows and the seconds ``model.score`` takes on 100,000 rows."""
    from labcoat.datasets import make_transactions

    with tempfile.TemporaryDirectory(prefix="labcoat-anomaly-serving-") as scratch:
        folder = model.save(Path(scratch) / "model")
        ms, flags = served(folder, asked)
    flagged = int(flags.sum())
    for how, kept in (("one row", slice(None)), (f"the {flagged} flagged rows (with reasons)", flags),
                      (f"the {len(flags) - flagged} other rows", ~flags)):
        rows.append({"how": f"{label}`POST /predict` (labcoat serve, 1 worker), {how}", "p50": float(np.median(ms[kept])),
                     "p99": float(np.percentile(ms[kept], 99))})
        print(rows[-1], flush=True)
    ms = in_process(model, asked[:WARM_UP] + asked)[WARM_UP:]
    many = make_transactions(100_000, seed=2).drop(columns=LABELS)
    started = time.perf_counter()
    model.score(many)
    bulk = time.perf_counter() - started
    rows.append({"how": f"{label}`model.predict` in process, one row", "p50": float(np.median(ms)),
                 "p99": float(np.percentile(ms, 99))})
    print(rows[-1], f"100,000 rows scored in {bulk:.2f} s", flush=True)
    return flagged, bulk


def pyod_one_row(model, asked: list[dict]) -> dict:
    """PyOD's own ``IForest.decision_function`` on one row of the detectors' input (the path
    before labcoat's flattened trees; the fitted forest is the one the model holds)."""
    forest = model.detectors[0].estimator.model_
    inputs = model._matrix(model._prepare(pd.DataFrame(asked)))
    ms = []
    for i in range(len(inputs)):
        started = time.perf_counter()
        forest.decision_function(inputs[i:i + 1])
        ms.append((time.perf_counter() - started) * 1000)
    return {"how": "PyOD `IForest.decision_function` in process, one row of the same inputs (before)",
            "p50": float(np.median(ms[WARM_UP:])), "p99": float(np.percentile(ms[WARM_UP:], 99))}


def main() -> None:
    import labcoat
    from labcoat.datasets import make_transactions
    from labcoat.tasks.anomaly.fit import fit_anomaly

    warnings.simplefilter("ignore")
    train = make_transactions(TRAIN_ROWS, seed=0).drop(columns=LABELS)
    new = make_transactions(max(REQUESTS, 2_000), seed=1).drop(columns=LABELS)
    model = labcoat.fit(train, task="anomaly", budget="1m", track=False, report=False, quiet=True)
    scores = model.score(new)
    # the most unusual tenth of the rows asked for first, so that flagged rows (with reasons) are timed too
    order = np.argsort(-scores, kind="stable")
    chosen = np.concatenate([order[: REQUESTS // 10], order[REQUESTS // 10:][:: max(1, len(order) // REQUESTS)]])
    asked = json.loads(new.iloc[chosen[:REQUESTS]].to_json(orient="records", date_format="iso"))
    rows: list[dict] = []
    flagged, bulk = timed(model, asked, "", rows)
    forest = fit_anomaly(train, budget="1m", quiet=True, candidates=["iforest"])
    _, forest_bulk = timed(forest, asked, "isolation forest alone: ", rows)
    rows.append(pyod_one_row(forest, asked))
    detectors = ", ".join(f"{d['name']} ({d['weight']:.2f})" for d in model.info["detectors"])
    lines = ["## Serving anomaly detection: `POST /predict` latency (`benchmarks/anomaly_serving.py`)", "",
             f"Written on {date.today().isoformat()}; {cpu_name()}. `make_transactions({TRAIN_ROWS:,})` without its "
             f"labels fitted with a budget of 1 minute (detectors kept: {detectors}); {REQUESTS} rows of another draw "
             f"asked for one row a request ({flagged} of them flagged, answered with their reasons), one request at "
             f"a time after {WARM_UP} warm-up requests, timed at the client (the service runs one BLAS/OpenMP thread per "
             "worker; in process, the default thread pools). Target: p50 ≤ 10 ms through the service.", "", "| how | p50 ms | p99 ms |", "|---|---:|---:|"]
    lines += [f"| {r['how']} | {r['p50']:.2f} | {r['p99']:.2f} |" for r in rows]
    lines += ["", f"`model.score` on 100,000 rows at once: {bulk:.2f} s (target ≤ 2 s); the isolation forest alone: "
              f"{forest_bulk:.2f} s."]
    write_section("anomaly_serving", "\n".join(lines))


if __name__ == "__main__":
    main()
