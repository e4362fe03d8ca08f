"""A segment model's fit as an MLflow run: what was chosen (candidate, k, columns) as
parameters, the chosen candidate's silhouette, stability (with its 95% interval), BIC and
the segments' shares as metrics, the leaderboard, the report and the model folder
(``runs:/RUN_ID/model``).

Examples
--------
>>> run_id = record_segment(model, uri="sqlite:////tmp/doc.db", source="customers.csv")  # doctest: +SKIP
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from labcoat.tracking import store
from labcoat.tracking.recorder import _param, finite_number
from labcoat.tracking.store import quiet_mlflow
from labcoat.tracking.task_run import close_run, open_run

#: The decisions logged as the run's parameters.
SETTINGS = ("rows", "k", "k_given", "columns", "candidates", "projection", "seed", "budget_seconds")
#: The chosen candidate's figures logged as metrics.
FIGURES = ("silhouette", "stability", "stability_low", "stability_high", "bic", "noise_share")


def record_segment(model: Any, *, uri: str | None = None, experiment: str = store.EXPERIMENT,
                   source: str = "in-memory", run_name: str | None = None, report: Path | None = None) -> str:
    """Write ``model``'s fit (and its ``report`` under ``reports/``) to the store at ``uri``;
    returns the run id."""
    from mlflow.entities import Metric, Param

    info = model.info
    chosen = info.get("chosen", {})
    now = int(time.time() * 1000)
    with quiet_mlflow():
        client, _, run_id = open_run(uri, experiment, run_name or "segment", task="segment", source=source,
                                     fingerprint="")
        metrics = [Metric(name, float(chosen[name]), now, 0) for name in FIGURES if finite_number(chosen.get(name))]
        metrics += [Metric(f"share_segment_{i}", float(share), now, 0) for i, share in enumerate(info.get("shares", []))]
        metrics.append(Metric("fit_seconds", float(info.get("seconds", 0.0)), now, 0))
        params = [Param(k, _param(info.get(k))) for k in SETTINGS]
        params.append(Param("candidate", _param(chosen.get("candidate"))))
        client.log_batch(run_id, metrics=metrics, params=params)
        close_run(client, run_id, model, report)
    return run_id
