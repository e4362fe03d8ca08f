"""A forecast fit as an MLflow run: settings, lineage, the ensemble's backtest scores with
their intervals and the 80% coverage, one child run per candidate, the leaderboard and the
model folder (``runs:/RUN_ID/model``, registrable like a tabular model).

Examples
--------
>>> run_id = record_forecast(model, uri="sqlite:////tmp/doc.db", source="sales.csv")  # doctest: +SKIP
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labcoat.tracking import store
from labcoat.tracking.recorder import KIND_TAG, _param, finite_number
from labcoat.tracking.store import quiet_mlflow
from labcoat.tracking.task_run import close_run, open_run

if TYPE_CHECKING:
    from labcoat.tasks.forecast.model import ForecastModel

SETTINGS = ("target", "time_column", "series", "horizon", "freq", "windows", "mase_season", "known", "past",
            "static", "holidays", "budget", "seed")


def record_forecast(model: ForecastModel, *, uri: str | None = None, experiment: str = store.EXPERIMENT,
                    source: str = "in-memory", run_name: str | None = None, report: Path | None = None) -> str:
    """Write ``model``'s fit (and its ``report`` under ``reports/``) to the store at ``uri``;
    returns the run id."""
    from mlflow.entities import Metric, Param, RunTag

    from labcoat.tracking.lineage import fingerprint

    info = model.info
    now = int(time.time() * 1000)
    with quiet_mlflow():
        client, experiment_id, run_id = open_run(uri, experiment, run_name or f"{model.target} forecast",
                                                 task="forecast", source=source,
                                                 fingerprint=fingerprint(model.panel.frame))
        ensemble = model.leaderboard[model.leaderboard["candidate"] == "ensemble"].iloc[0]
        metrics = [Metric(f"backtest_{k}", float(ensemble[k]), now, 0) for k in ensemble.index
                   if k.split("_")[0] in ("mase", "smape", "wape", "rmsse") and finite_number(ensemble[k])]
        coverage = info.get("coverage_80") or {}
        if finite_number(coverage.get("share")):
            metrics.append(Metric("coverage_80", float(coverage["share"]), now, 0))
        honest = info.get("honest_estimate") or {}
        metrics += [Metric(f"honest_{k}", float(v), now, 0) for k, v in honest.items()
                    if k != "candidate" and finite_number(v)]
        metrics.append(Metric("fit_seconds", float(info.get("seconds", 0.0)), now, 0))
        params = [Param(k, _param(info.get(k))) for k in SETTINGS]
        client.log_batch(run_id, metrics=metrics, params=params,
                         tags=[RunTag("labcoat.best_family", str(model.leaderboard.iloc[0]["candidate"]))])
        for row in model.leaderboard.to_dict("records"):
            if row["candidate"] == "ensemble":
                continue
            child = client.create_run(experiment_id, run_name=f"candidate {row['candidate']}",
                                      tags={"mlflow.parentRunId": run_id, KIND_TAG: "trial",
                                            "labcoat.family": str(row["candidate"]),
                                            "labcoat.status": str(row.get("status"))})
            client.log_batch(child.info.run_id, metrics=[
                Metric(k, float(v), now, 0) for k, v in row.items()
                if k in ("mase", "smape", "wape", "rmsse", "seconds", "weight") and finite_number(v)])
            client.set_terminated(child.info.run_id, "FINISHED" if row.get("status") == "ok" else "KILLED")
        close_run(client, run_id, model, report)
    return run_id
