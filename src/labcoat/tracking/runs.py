"""Reading studies back: the list of runs, and one run with its lineage and leaderboard.

Examples
--------
>>> list_runs(limit=20)        # doctest: +SKIP
[{'run': '0a1b2c...', 'date': '2026-11-25 13:02', 'task': 'binary', ...}]
"""
from __future__ import annotations

import sqlite3
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labcoat.errors import RegistryError
from labcoat.tracking import store
from labcoat.tracking.store import quiet_mlflow
from labcoat.tracking.recorder import KIND_TAG


#: Runs listed (tag ``labcoat.kind``): studies of ``fit`` and checks of ``labcoat monitor``.
LISTED_KINDS = ("study", "monitor")


def list_runs(limit: int = 50, uri: str | None = None, experiment: str = store.EXPERIMENT) -> list[dict[str, Any]]:
    """The latest ``limit`` studies (and monitoring checks), newest first."""
    path = store.sqlite_path(store.resolve_uri(uri))
    if path is not None:
        if not path.exists():
            return []
        try:
            return _list_sqlite(path, experiment, limit)
        except sqlite3.Error:  # a schema this reader does not know: ask MLflow
            pass
    return _list_mlflow(limit, uri, experiment)


def _list_mlflow(limit: int, uri: str | None, experiment: str) -> list[dict[str, Any]]:
    client = store.client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = [run for kind in LISTED_KINDS  # MLflow's filter has no IN for tags
            for run in client.search_runs([found.experiment_id], filter_string=f"tags.`{KIND_TAG}` = '{kind}'",
                                          order_by=["attributes.start_time DESC"], max_results=limit)]
    runs = sorted(runs, key=lambda run: -run.info.start_time)[:limit]
    return [_row(run.info.run_id, run.info.run_name, run.info.start_time, run.info.status,
                 run.data.tags, run.data.params, run.data.metrics) for run in runs]


def _list_sqlite(path: Path, experiment: str, limit: int) -> list[dict[str, Any]]:
    """:func:`list_runs` straight from an embedded store's tables, read-only.

    Importing MLflow alone takes ~1.1 s; with its store checks, `labcoat runs list` took 2.3 s
    on a 1,000-run store through MlflowClient and takes well under 1 s this way (see
    benchmarks/RESULTS.md). Tested to give the same rows as the MlflowClient path.
    """
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=store.BUSY_TIMEOUT) as connection:
        runs = connection.execute(
            "select r.run_uuid, r.name, r.start_time, r.status from runs r "
            "join experiments e on e.experiment_id = r.experiment_id "
            f"join tags k on k.run_uuid = r.run_uuid and k.key = ? and k.value in ({','.join('?' * len(LISTED_KINDS))}) "
            "where e.name = ? and r.lifecycle_stage = 'active' "
            "order by r.start_time desc limit ?", (KIND_TAG, *LISTED_KINDS, experiment, limit)).fetchall()
        ids = [r[0] for r in runs]
        marks = ",".join("?" * len(ids))
        found: dict[str, dict[str, dict[str, Any]]] = {i: {"tags": {}, "params": {}, "metrics": {}} for i in ids}
        for table, kind in (("tags", "tags"), ("params", "params"), ("latest_metrics", "metrics")):
            for key, value, run in connection.execute(
                    f"select key, value, run_uuid from {table} where run_uuid in ({marks})", ids):
                found[run][kind][key] = value
    return [_row(i, name, start, status, **found[i]) for i, name, start, status in runs]


def show_run(run_id: str, uri: str | None = None) -> dict[str, Any]:
    """One study: status, settings, lineage, scores and its leaderboard."""
    client = store.client(uri)
    try:
        run = client.get_run(run_id)
    except Exception:
        raise RegistryError(f"No run '{run_id}' in {client.tracking_uri}; `labcoat runs list` shows "
                            "the runs.") from None
    import pandas as pd

    tags = run.data.tags
    leaderboard = None
    with tempfile.TemporaryDirectory() as scratch, quiet_mlflow():
        try:
            path = client.download_artifacts(run_id, "leaderboard.csv", scratch)
            leaderboard = pd.read_csv(path).to_dict("records")
        except Exception:  # an interrupted run has none
            leaderboard = None
    return {**_row(run_id, run.info.run_name, run.info.start_time, run.info.status, tags,
                   run.data.params, run.data.metrics),
            "params": dict(run.data.params), "metrics": dict(run.data.metrics),
            "lineage": {k[len("lineage."):]: v for k, v in tags.items() if k.startswith("lineage.")},
            "error": tags.get("labcoat.error"), "leaderboard": leaderboard,
            "model_uri": f"runs:/{run_id}/model"}


def _row(run_id: str, name: str | None, start_time: int, status: str, tags: dict[str, str],
         params: dict[str, str], metrics: dict[str, float]) -> dict[str, Any]:
    started = datetime.fromtimestamp(start_time / 1000, tz=timezone.utc)
    score = metrics.get("ensemble_score", metrics.get("current_score"))  # a monitoring check's score
    return {"run": run_id, "name": name, "kind": tags.get(KIND_TAG),
            "date": started.strftime("%Y-%m-%d %H:%M"), "status": status,
            "data": tags.get("lineage.data_fingerprint", "")[:12],
            "rows": tags.get("lineage.rows"), "target": params.get("target"),
            "task": tags.get("labcoat.task"), "metric": tags.get("labcoat.metric"),
            "score": score, "score_std": metrics.get("ensemble_score_std"),
            "best_family": tags.get("labcoat.best_family")}


def download_model(model_uri: str, uri: str | None = None) -> Path:
    """A local copy of the model at ``runs:/...`` or ``models:/...``; returns its folder."""
    import mlflow.artifacts

    from labcoat.tracking.registry import resolve

    tracking_uri = store.resolve_uri(uri)
    store.prepare(tracking_uri)
    source = resolve(model_uri, uri) if model_uri.startswith("models:/") else model_uri
    target = Path(tempfile.mkdtemp(prefix="labcoat-model-"))
    with quiet_mlflow():
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(target),
                                                        tracking_uri=tracking_uri)
        except Exception as error:
            raise RegistryError(f"Cannot fetch the model '{model_uri}' from {tracking_uri}: {error}") from None
    return Path(local)
