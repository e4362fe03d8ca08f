"""A recommender's fit as an MLflow run: settings, lineage, the chosen recommender's test scores
with their intervals, one child run per candidate, the leaderboard and the model folder
(``runs:/RUN_ID/model``, registrable like any other model).

Examples
--------
>>> run_id = record_recommend(model, uri="sqlite:////tmp/doc.db", source="ratings.csv")  # doctest: +SKIP
>>> metric_name("ndcg@10")
'ndcg_at_10'
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from labcoat.tracking import store
from labcoat.tracking.recorder import KIND_TAG, _param, finite_number
from labcoat.tracking.store import quiet_mlflow
from labcoat.tracking.task_run import close_run, open_run

#: The settings logged as the run's parameters.
SETTINGS = ("user", "item", "rating", "time", "threshold", "preference", "split", "n_users", "n_items",
            "interactions", "budget", "seed")
#: Leaderboard columns that are not scores.
NOT_SCORES = ("candidate", "chosen", "params", "status", "p_value_vs_chosen")


def metric_name(column: str) -> str:
    """A leaderboard column as an MLflow metric name (MLflow refuses ``@``)."""
    return column.replace("@", "_at_")


def record_recommend(model: Any, *, uri: str | None = None, experiment: str = store.EXPERIMENT,
                     source: str = "in-memory", run_name: str | None = None, report: Path | None = None) -> str:
    """Write ``model``'s fit (and its ``report`` under ``reports/``) to the store at ``uri``;
    returns the run id."""
    from mlflow.entities import Metric, Param, RunTag


    info = model.info
    now = int(time.time() * 1000)
    with quiet_mlflow():
        client, experiment_id, run_id = open_run(uri, experiment, run_name or "recommend", task="recommend",
                                                 source=source, fingerprint=str(info.get("fingerprint", "")))
        board = model.leaderboard
        chosen = board[board["chosen"].fillna(False).astype(bool)].iloc[0] if "chosen" in board else board.iloc[0]
        metrics = [Metric(f"test_{metric_name(k)}", float(v), now, 0) for k, v in chosen.items()
                   if k not in NOT_SCORES and finite_number(v)]
        metrics.append(Metric("fit_seconds", float(info.get("seconds", 0.0)), now, 0))
        params = [Param(k, _param(info.get(k))) for k in SETTINGS]
        params.append(Param("chosen", _param(info.get("chosen"))))
        client.log_batch(run_id, metrics=metrics, params=params,
                         tags=[RunTag("labcoat.best_family", str(chosen["candidate"]))])
        for row in board.to_dict("records"):
            if row.get("chosen"):
                continue
            child = client.create_run(experiment_id, run_name=f"candidate {row['candidate']}",
                                      tags={"mlflow.parentRunId": run_id, KIND_TAG: "trial",
                                            "labcoat.family": str(row["candidate"]),
                                            "labcoat.status": str(row.get("status"))})
            client.log_batch(child.info.run_id,
                             metrics=[Metric(f"test_{metric_name(k)}", float(v), now, 0) for k, v in row.items()
                                      if k not in NOT_SCORES and finite_number(v)],
                             params=[Param(k, _param(v)) for k, v in (row.get("params") or {}).items()])
            client.set_terminated(child.info.run_id, "FINISHED" if row.get("status") == "ok" else "KILLED")
        close_run(client, run_id, model, report)
    return run_id
