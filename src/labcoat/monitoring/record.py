"""A monitoring check as an MLflow run: its figures as metrics, its JSON and HTML report as
artifacts, and tags linking it to the model monitored (registered name and version, or the
run that trained it), in the experiment ``labcoat-monitor``.

``labcoat runs list --experiment labcoat-monitor`` lists these runs (tag
``labcoat.kind = monitor``).

Examples
--------
>>> metric_key("drift.monthly charges (€)")
'drift.monthly charges ___'
>>> run = open_run("monitor churn v2")                                         # doctest: +SKIP
>>> run.finish({"share_drifted": 0.25}, {"labcoat.model": "models:/churn/2"}, document)  # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: The experiment monitoring runs go to.
EXPERIMENT = "labcoat-monitor"
#: MLflow writes at most this many metrics per call.
BATCH = 1000


def metric_key(name: str) -> str:
    """``name`` with the characters MLflow refuses in a metric key replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)[:250]


@dataclass
class MonitorRun:
    """An open monitoring run: :meth:`finish` writes it, :meth:`fail` closes it as FAILED."""

    client: MlflowClient
    run_id: str

    def finish(self, metrics: dict[str, float], tags: dict[str, str], document: dict[str, Any], *,
               params: dict[str, str] | None = None, reports: Sequence[Path] = ()) -> None:
        """Log ``metrics`` (non-finite ones left out; keys made valid, first one kept),
        ``tags``, ``params``, ``document`` as ``monitor.json`` and ``reports``; close as FINISHED."""
        from mlflow.entities import Metric, Param, RunTag

        from labcoat.tracking.store import quiet_mlflow

        now = int(time.time() * 1000)
        entries: dict[str, Any] = {}
        for name, value in metrics.items():
            key = metric_key(name)
            if key not in entries and value is not None and math.isfinite(float(value)):
                entries[key] = Metric(key, float(value), now, 0)
        values = list(entries.values())
        with quiet_mlflow():
            for start in range(0, len(values), BATCH):
                self.client.log_batch(self.run_id, metrics=values[start:start + BATCH])
            self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in (params or {}).items()],
                                  tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])
            with tempfile.TemporaryDirectory(prefix="labcoat-monitor-") as scratch:
                path = Path(scratch) / "monitor.json"
                path.write_text(json.dumps(document, indent=2, default=str))
                self.client.log_artifact(self.run_id, str(path))
                for report in reports:
                    self.client.log_artifact(self.run_id, str(report))
            self.client.set_terminated(self.run_id, "FINISHED")

    def fail(self) -> None:
        try:
            self.client.set_terminated(self.run_id, "FAILED")
        except Exception:  # the store itself may be what failed; the original error matters more
            pass


def open_run(run_name: str, tracking_uri: str | None = None, experiment: str = EXPERIMENT) -> MonitorRun:
    """Start a run tagged ``labcoat.kind = monitor`` in ``experiment``."""
    from labcoat.tracking import store
    from labcoat.tracking.recorder import KIND_TAG

    client = store.client(tracking_uri)
    experiment_id = store.experiment_id(client, experiment)
    with store.quiet_mlflow():
        run = client.create_run(experiment_id, run_name=run_name, tags={KIND_TAG: "monitor"})
    return MonitorRun(client, run.info.run_id)
