"""What the runs of the tasks with a pipeline of their own share: the parent run opened with
its lineage, and closed with the leaderboard, the report and the model folder as artifacts
(``runs:/RUN_ID/model``, registrable like a row model).

Examples
--------
>>> client, experiment_id, run_id = open_run(None, "labcoat", "demand forecast", task="forecast",
...                                          source="sales.csv", fingerprint="ab12")  # doctest: +SKIP
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from labcoat.tracking import store
from labcoat.tracking.recorder import KIND_TAG


def open_run(uri: str | None, experiment: str, run_name: str, *, task: str, source: str,
             fingerprint: str) -> tuple[Any, str, str]:
    """A new parent run of ``task`` with its lineage tags: ``(client, experiment id, run id)``."""
    from labcoat.artifact import library_versions

    client = store.client(uri)
    experiment_id = store.experiment_id(client, experiment)
    run = client.create_run(experiment_id, run_name=run_name,
                            tags={KIND_TAG: "study", "labcoat.task": task, "lineage.source": source,
                                  "lineage.data_fingerprint": fingerprint,
                                  "lineage.versions": json.dumps(library_versions())})
    return client, experiment_id, run.info.run_id


def close_run(client: Any, run_id: str, model: Any, report: Path | None) -> None:
    """The leaderboard, the report (under ``reports/``) and the model folder (``model/``) as the
    run's artifacts; the run closed as FINISHED."""
    with tempfile.TemporaryDirectory(prefix="labcoat-run-") as scratch:
        folder = Path(scratch)
        model.leaderboard.to_csv(folder / "leaderboard.csv", index=False)
        client.log_artifact(run_id, str(folder / "leaderboard.csv"))
        if report is not None:
            client.log_artifact(run_id, str(report), artifact_path="reports")
        model.save(folder / "model")
        client.log_artifacts(run_id, str(folder / "model"), artifact_path="model")
    client.set_terminated(run_id, "FINISHED")
