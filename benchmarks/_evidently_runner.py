"""Evidently's per-column drift verdicts for prepared pairs of samples; runs in Evidently's venv.

Called by ``benchmarks/drift.py`` as ``python _evidently_runner.py JOBS.json OUT.json``. Each job
names a reference and a current Parquet file and the numerical and categorical columns; the output
gives, per job and column, Evidently's method, score, threshold and verdict with its defaults
(``Report([DataDriftPreset()])``). Imports only pandas and Evidently.
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

P_VALUES = ("p_value",)  # methods whose score is a p-value: drift when below the threshold


def main(jobs_path: str, out_path: str) -> None:
    warnings.simplefilter("ignore")
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    results = []
    for job in json.loads(Path(jobs_path).read_text()):
        definition = DataDefinition(numerical_columns=job["numerical"], categorical_columns=job["categorical"])
        ref = Dataset.from_pandas(pd.read_parquet(job["reference"]), data_definition=definition)
        cur = Dataset.from_pandas(pd.read_parquet(job["current"]), data_definition=definition)
        start = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
        seconds = time.perf_counter() - start
        columns = {}
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if not config["type"].endswith("ValueDrift"):
                continue
            method, threshold, score = config["method"], float(config["threshold"]), float(metric["value"])
            p_value = method.endswith(P_VALUES)
            columns[config["column"]] = {"method": method, "score": score, "threshold": threshold,
                                         "drifted": score < threshold if p_value else score >= threshold}
        results.append({"job": job["name"], "columns": columns, "seconds": seconds})
    Path(out_path).write_text(json.dumps({"version": evidently.__version__, "results": results}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
