"""One ``fit`` as an MLflow parent run, with one child run per trial.

The parent run carries the lineage (data fingerprint, source, versions, git commit, machine),
the resolved settings, the final scores and the artifacts (leaderboard, schema, ensemble, the
model). Trials are written in batches, a few at a time, so tracking costs little of the
budget; a trial's child run holds its family, parameters, per-fold scores, their mean and
spread, its duration and its status (ok, failed with the error, stopped at the budget).

An interrupted fit (Ctrl-C, SIGTERM) marks its runs KILLED, a failed one FAILED: nothing is
left RUNNING.
"""
from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labcoat.tracking import store
from labcoat.tracking.interrupt import deferred_interrupts
from labcoat.tracking.store import quiet_mlflow

if TYPE_CHECKING:
    from labcoat.model import Model
    from labcoat.search import StudyState, Trial

#: Trials written per batch, and the longest a finished trial waits to be written.
FLUSH_TRIALS = 8
FLUSH_SECONDS = 5.0
#: MLflow's limit on a parameter value's length.
PARAM_CHARS = 6000
KIND_TAG = "labcoat.kind"
STATUS = {"ok": "FINISHED", "failed": "FAILED", "stopped": "KILLED"}


class StudyRecorder:
    """Writes a study to MLflow as it runs.

    Examples
    --------
    >>> recorder = StudyRecorder(uri="sqlite:////tmp/doc.db", run_name="churn")  # doctest: +SKIP
    >>> recorder.start(params={"budget": 60}, tags={"data.fingerprint": "ab12..."})  # doctest: +SKIP
    """

    def __init__(self, uri: str | None = None, experiment: str = store.EXPERIMENT,
                 run_name: str | None = None) -> None:
        self.client = store.client(uri)  # fails fast when the store cannot be used
        self.experiment_id = store.experiment_id(self.client, experiment)
        self.run_name = run_name
        self.run_id: str | None = None
        self.finished = False
        self._pending: list[Trial] = []
        self._last_flush = time.monotonic()
        self.seconds = 0.0  # time spent writing to the store

    def start(self, params: dict[str, Any], tags: dict[str, str]) -> str:
        """Open the parent run with the settings and lineage; returns its id."""
        from mlflow.entities import Param, RunTag

        with self._timed():
            run = self.client.create_run(self.experiment_id, run_name=self.run_name,
                                         tags={KIND_TAG: "study", **tags})
            self.run_id = run.info.run_id
            self.client.log_batch(self.run_id, params=[Param(k, _param(v)) for k, v in params.items()],
                                  tags=[RunTag("labcoat.params", json.dumps(params, default=str))])
        return self.run_id

    def on_trial(self, state: StudyState) -> None:
        """Study callback: queue the finished trial; write a batch when enough have waited."""
        self._pending.append(state.trial)
        if len(self._pending) >= FLUSH_TRIALS or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the queued trials as child runs."""
        from mlflow.entities import Metric, Param, RunTag

        if not self._pending or self.run_id is None:
            return
        batch, self._pending = self._pending, []  # taken first: an interrupt after the writes
        with self._timed():                          # must not write them twice
            for trial in batch:
                now = int(time.time() * 1000)
                child = self.client.create_run(
                    self.experiment_id, run_name=f"trial {trial.number} {trial.family}",
                    start_time=now - int(trial.duration * 1000),
                    tags={"mlflow.parentRunId": self.run_id, KIND_TAG: "trial",
                          "labcoat.family": trial.family, "labcoat.status": trial.status,
                          "labcoat.origin": trial.origin, "labcoat.truncated": str(trial.truncated).lower()})
                metrics = [Metric(f"fold_{i + 1}_score", s, now, 0) for i, s in enumerate(trial.fold_scores)]
                for key, value in (("score", trial.score), ("score_std", trial.score_std),
                                   ("duration_s", trial.duration)):
                    if not math.isnan(value):
                        metrics.append(Metric(key, value, now, 0))
                tags = [RunTag("labcoat.error", trial.error[:5000])] if trial.error else []
                self.client.log_batch(child.info.run_id, metrics=metrics, tags=tags,
                                      params=[Param(k, _param(v)) for k, v in trial.params.items()]
                                      + [Param("family", trial.family), Param("trial", str(trial.number))])
                self.client.set_terminated(child.info.run_id, STATUS[trial.status], end_time=now)
        self._last_flush = time.monotonic()

    def finish(self, model: Model, reports: Sequence[Path] = ()) -> None:
        """Write the results and artifacts (``reports`` under ``reports/``), then close the
        parent run as FINISHED."""
        from mlflow.entities import Metric, RunTag

        self.flush()
        assert self.run_id is not None
        with self._timed(), quiet_mlflow():
            now = int(time.time() * 1000)
            info = model.info.to_dict()
            metrics = [Metric(k, float(info[k]), now, 0) for k in
                       ("ensemble_score", "ensemble_score_std", "best_single_score", "n_trials",
                        "search_seconds", "fit_seconds")
                       if isinstance(info.get(k), (int, float))]
            estimates = {"selection": ("corrected_score", "low", "high", "gap"), "test": ("score", "low", "high")}
            metrics += [Metric(f"{group}_{k}", float(info[group][k]), now, 0) for group, keys in estimates.items()
                        for k in keys if isinstance((info.get(group) or {}).get(k), (int, float))
                        and info[group][k] == info[group][k]]
            best = model.leaderboard.iloc[0] if len(model.leaderboard) else None
            tags = [RunTag("labcoat.best_family", str(best["family"]))] if best is not None else []
            self.client.log_batch(self.run_id, metrics=metrics, tags=tags)
            with tempfile.TemporaryDirectory(prefix="labcoat-run-") as scratch:
                folder = Path(scratch)
                model.leaderboard.to_csv(folder / "leaderboard.csv", index=False)
                (folder / "schema.json").write_text(model.schema.to_json())
                model.ensemble.to_json(folder / "ensemble.json", orient="records", indent=2)
                for name in ("leaderboard.csv", "schema.json", "ensemble.json"):
                    self.client.log_artifact(self.run_id, str(folder / name))
                for report in reports:
                    self.client.log_artifact(self.run_id, str(report), artifact_path="reports")
                model.save(folder / "model")
                self.client.log_artifacts(self.run_id, str(folder / "model"), artifact_path="model")
            self.client.set_terminated(self.run_id, "FINISHED")
        self.finished = True

    def abort(self, status: str, error: str | None = None) -> None:
        """Close the parent run (and write the trials done) as ``FAILED`` or ``KILLED``; a run
        already finished (a later step such as registering failed) is left as it is."""
        from mlflow.entities import RunTag

        if self.run_id is None or self.finished:
            return
        try:
            self.flush()
            if error:
                self.client.log_batch(self.run_id, tags=[RunTag("labcoat.error", error[:5000])])
            self.client.set_terminated(self.run_id, status)
        except Exception:  # the store itself may be what failed; the original error matters more
            pass

    @contextmanager
    def _timed(self) -> Iterator[None]:
        """Time a write to the store, and hold interrupts until it is done."""
        started = time.perf_counter()
        try:
            with deferred_interrupts():
                yield
        finally:
            self.seconds += time.perf_counter() - started


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:PARAM_CHARS]


def finite_number(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (a metric MLflow can hold)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
