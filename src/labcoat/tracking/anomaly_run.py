"""An anomaly model's fit as an MLflow run: what was chosen (detectors and their weights, the
criterion, the threshold and how it was set) as parameters, the training alert rate and, with
labels, ROC AUC, PR AUC and precision at the threshold with their 95% intervals as metrics;
one child run per detector (its leaderboard row), the leaderboard, the report and the model
folder (``runs:/RUN_ID/model``, registrable like any other model).

Examples
--------
>>> run_id = record_anomaly(model, uri="sqlite:////tmp/doc.db", source="transactions.csv")  # doctest: +SKIP
>>> metric_items({"roc_auc": [0.91, 0.88, 0.94], "alert_rate": 0.01, "note": "x"})
[('roc_auc', 0.91), ('roc_auc_low', 0.88), ('roc_auc_high', 0.94), ('alert_rate', 0.01)]
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from labcoat.tracking import store
from labcoat.tracking.recorder import KIND_TAG, _param, finite_number
from labcoat.tracking.store import quiet_mlflow
from labcoat.tracking.task_run import close_run, open_run

#: The decisions logged as the run's parameters (those the model's ``info`` has).
SETTINGS = ("rows", "labels_column", "positives", "time_column", "entity_column", "criterion", "threshold",
            "contamination", "alerts_per_day", "cost_ratio", "budget_seconds", "seed")
#: Leaderboard columns that are not scores.
NOT_SCORES = ("detector", "candidate", "chosen", "params", "status", "notes")


def metric_items(values: dict[str, Any]) -> list[tuple[str, float]]:
    """Numbers as ``(name, value)``; a ``[value, low, high]`` triple (a metric with its 95%
    interval) as ``name``, ``name_low`` and ``name_high``; anything else left out."""
    out: list[tuple[str, float]] = []
    for name, value in values.items():
        if isinstance(value, (list, tuple)) and len(value) == 3 and all(finite_number(v) for v in value):
            out += [(name, float(value[0])), (f"{name}_low", float(value[1])), (f"{name}_high", float(value[2]))]
        elif isinstance(value, dict) and finite_number(value.get("value")):
            out.append((name, float(value["value"])))
            out += [(f"{name}_{side}", float(value[side])) for side in ("low", "high") if finite_number(value.get(side))]
        elif finite_number(value):
            out.append((name, float(value)))
    return out


def record_anomaly(model: Any, *, uri: str | None = None, experiment: str = store.EXPERIMENT,
                   source: str = "in-memory", run_name: str | None = None, report: Path | None = None) -> str:
    """Write ``model``'s fit (and its ``report`` under ``reports/``) to the store at ``uri``;
    returns the run id."""
    from mlflow.entities import Metric, Param, RunTag

    info = model.info
    now = int(time.time() * 1000)
    with quiet_mlflow():
        client, experiment_id, run_id = open_run(uri, experiment, run_name or "anomaly", task="anomaly",
                                                 source=source, fingerprint=str(info.get("fingerprint", "")))
        figures = {"training_alert_rate": info.get("training_alert_rate"), **(info.get("metrics") or {}),
                   "fit_seconds": info.get("fit_seconds")}
        metrics = [Metric(k, v, now, 0) for k, v in metric_items(figures)]
        params = [Param(k, _param(info.get(k))) for k in SETTINGS if info.get(k) is not None]
        params += [Param("detectors", _param(info.get("detectors"))), Param("columns", _param(model.columns))]
        client.log_batch(run_id, metrics=metrics, params=params,
                         tags=[RunTag("labcoat.detectors", ", ".join(map(str, _chosen(info))))])
        for row in model.leaderboard.to_dict("records"):
            name = str(row.get("detector", row.get("candidate", "")))
            child = client.create_run(experiment_id, run_name=f"detector {name}",
                                      tags={"mlflow.parentRunId": run_id, KIND_TAG: "trial",
                                            "labcoat.family": name, "labcoat.chosen": str(bool(row.get("chosen")))})
            scores = {k: v for k, v in row.items() if k not in NOT_SCORES}
            client.log_batch(child.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in metric_items(scores)],
                             params=[Param(k, _param(v)) for k, v in (row.get("params") or {}).items()]
                             if isinstance(row.get("params"), dict) else [])
            client.set_terminated(child.info.run_id, "FINISHED")
        close_run(client, run_id, model, report)
    return run_id


def _chosen(info: dict[str, Any]) -> list[str]:
    detectors = info.get("detectors") or []
    if isinstance(detectors, dict):
        return list(detectors)
    return [d.get("name", str(d)) if isinstance(d, dict) else str(d) for d in detectors]
