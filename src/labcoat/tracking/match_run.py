"""A match model's fit as an MLflow run: what was chosen (roles, blocking, threshold) as
parameters, its quality (against true links with 95% intervals, or its own estimate) as
metrics, the leaderboard, the report and the model folder (``runs:/RUN_ID/model``).

Examples
--------
>>> run_id = record_match(model, uri="sqlite:////tmp/doc.db", source="people.csv")  # doctest: +SKIP
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
SETTINGS = ("records", "link", "id_column", "threshold", "threshold_chosen_by", "prior", "compared_pairs",
            "budget_seconds", "estimator")


def record_match(model: Any, *, uri: str | None = None, experiment: str = store.EXPERIMENT,
                 source: str = "in-memory", run_name: str | None = None, report: Path | None = None) -> str:
    """Write ``model``'s fit (and its ``report`` under ``reports/``) to the store at ``uri``;
    returns the run id."""
    from mlflow.entities import Metric, Param

    info = model.info
    now = int(time.time() * 1000)
    with quiet_mlflow():
        client, _, run_id = open_run(uri, experiment, run_name or "match", task="match", source=source,
                                     fingerprint=str(info.get("fingerprint", "")))
        board = model.leaderboard
        if "chosen" in board.columns and board["chosen"].any():
            board = board[board["chosen"].astype(bool)]  # the model used: Fellegi-Sunter or the classifier
        row = board.iloc[0].to_dict() if len(board) else {}
        metrics = [Metric(str(k), float(v), now, 0) for k, v in row.items() if k not in ("candidate", "chosen") and finite_number(v)]
        metrics.append(Metric("fit_seconds", float(info.get("fit_seconds", 0.0)), now, 0))
        blocking = info.get("evaluation", {}).get("blocking")
        if blocking:
            metrics.append(Metric("blocking_lost_share", float(blocking["lost_share"]), now, 0))
        params = [Param(k, _param(info.get(k))) for k in SETTINGS]
        params += [Param("roles", _param({r["column"]: r["role"] for r in info.get("roles", [])})),
                   Param("blocking", _param([" & ".join(r["columns"]) for r in info.get("blocking", [])]))]
        client.log_batch(run_id, metrics=metrics, params=params)
        close_run(client, run_id, model, report)
    return run_id
