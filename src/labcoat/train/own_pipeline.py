"""``fit`` for the tasks with a pipeline of their own (:class:`labcoat.tasks.PipelineTask`:
forecasting, recommendations): their fit, then what every fitted model gets: its report, its
tracked run and, when asked, a registered version.

Settings of ``fit`` that only the tabular pipeline has (trials, executors, holdouts, folds by
time) are refused with a message rather than ignored.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from labcoat.data.io import DataSource
from labcoat.errors import ConfigError
from labcoat.tasks import PipelineTask

#: ``fit``'s settings that the row tasks' pipeline has and these tasks do not, with their defaults.
TABULAR_ONLY = {"trials": None, "callbacks": (), "text_column": None, "embeddings": None,
                "strict": False, "test": None, "holdout": "auto", "split": "random", "latency_limit": None}


def fit_own_pipeline(task: PipelineTask, data: DataSource, target: str | None, *, track: bool, tracking_uri: str | None,
                     experiment: str, register: str | None, source: str | None, families: Any,
                     report: bool, report_dir: str | Path | None, options: dict[str, Any], unused: dict[str, Any],
                     **settings: Any) -> Any:
    """Fit ``task`` on ``data``, write its report (to ``report_dir``, and to the run when
    tracked) and record it; ``unused`` holds fit's tabular-only settings as given (any not at
    its default is refused)."""
    options = dict(options)
    for name in [n for n in unused if n in task.options]:  # fit's setting of the same name is the task's
        value = unused.pop(name)
        if value != TABULAR_ONLY[name]:
            options[name] = value
    given = [name for name, value in unused.items() if value != TABULAR_ONLY[name]
             and not (name == "callbacks" and not value)]
    if given:
        raise ConfigError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to task "
                          f"{task.name!r} (it has a pipeline of its own); drop {'it' if len(given) == 1 else 'them'}.")
    unknown = [k for k in options if k not in task.options]
    if unknown:
        raise ConfigError(f"Option(s) {', '.join(unknown)} do not apply to task {task.name!r}; its options are "
                          f"{', '.join(task.options)}.")
    if register and not track:
        raise ConfigError("register= needs tracking: the registry holds recorded runs' models. "
                          "Drop --no-track (track=False) or register later with `labcoat models register`.")
    client_check = None
    if track:  # an unusable store fails here, before any training
        from labcoat.tracking import store

        client_check = store.client(tracking_uri)
    model = task.fit(data, target, candidates=families, **settings, **options)
    written = None
    with tempfile.TemporaryDirectory(prefix="labcoat-reports-") as scratch:
        if report and (report_dir is not None or client_check is not None):
            written = task.write_report(model, report_dir or scratch)
            if report_dir is not None:
                model.info["reports"] = [str(written)]
        if client_check is not None:
            model.info["run_id"] = _record(task, model, data, target, tracking_uri, experiment, source, register,
                                           written)
    return model


def _record(task: PipelineTask, model: Any, data: DataSource, target: str | None, tracking_uri: str | None,
            experiment: str, source: str | None, register: str | None, report: Path | None) -> str:
    """The tracked run (and registered version) of ``model``; returns the run id."""
    from labcoat.tracking.lineage import describe_source

    started = time.monotonic()
    name = " ".join(part for part in (target or task.name, Path(data).stem if isinstance(data, (str, Path)) else "")
                    if part)
    run_id = task.record_run(model, uri=tracking_uri, experiment=experiment, source=source or describe_source(data),
                             run_name=name, report=report)
    if register:
        from labcoat.tracking.registry import register as register_version

        model.info["registered"] = {"name": register,
                                    "version": register_version(f"runs:/{run_id}/model", register, tracking_uri)}
    model.info["tracking_seconds"] = round(time.monotonic() - started, 3)
    return run_id
