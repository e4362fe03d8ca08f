"""The tasks labcoat learns, behind one contract (:class:`Task`) and a registry.

``get_task(name)`` gives the registered task; ``register_task(task)`` adds one (a new task is
a new module in this package and one line below). ``resolve_task`` finds the task of a target
column: the one asked for, else the first registered task that :meth:`Task.detect` s it.

Examples
--------
>>> import pandas as pd
>>> resolve_task(pd.Series(["a", "b", "c"]), "y").name
'multiclass'
>>> task_names()
['binary', 'multiclass', 'regression', 'forecast', 'recommend', 'match', 'anomaly', 'segment', 'extract']
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


import pandas as pd

from labcoat.data.schema import Schema
from labcoat.errors import ConfigError, did_you_mean, listed
from labcoat.evaluate.metrics import get_metric
from labcoat.tasks.base import EstimatorType, PostFit, Task, TaskOptions
from labcoat.tasks.binary import BinaryOptions, BinaryTask
from labcoat.tasks.classification import ClassificationOptions, ClassificationTask
from labcoat.tasks.multiclass import MulticlassTask
from labcoat.tasks.regression import RegressionTask

_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add ``task`` to the registry under ``task.name`` (detection tries tasks in this order)."""
    if task.name in _TASKS:
        raise ConfigError(f"A task called {task.name!r} is already registered.")
    _TASKS[task.name] = task
    return task


def get_task(name: str | Task) -> Task:
    """The registered task called ``name`` (a task is returned as it is)."""
    if isinstance(name, Task):
        return name
    key = str(name).lower()
    if key in _PIPELINES:
        raise ConfigError(f"Task {name!r} has a pipeline of its own; fit it with labcoat.fit(task={key!r}).")
    if key not in _TASKS:
        raise ConfigError(f"Unknown task {name!r}. Use one of: {listed(task_names())}."
                          + did_you_mean(str(name), _TASKS))
    return _TASKS[key]


@dataclass(frozen=True)
class PipelineTask:
    """A task whose data is not one row per example (series over time, interactions): it
    brings its own pipeline and model class, named here by ``"module:attribute"`` so that
    they are imported only when used. The model has ``info``, ``leaderboard``, ``save`` and a
    ``load`` class method, and saves a folder whose ``labcoat.json`` has ``"kind": name``;
    ``report`` writes its HTML report (``(model, folder) -> path``) and ``record`` its
    tracked run (``(model, *, uri, experiment, source, run_name, report) -> run id``)."""

    name: str
    description: str
    entry: str  #: its fit
    options: tuple[str, ...]  #: the keyword options of ``labcoat.fit`` it takes
    model: str  #: the model class
    report: str  #: the report writer
    record: str  #: the run recorder
    command: str  #: the CLI command (and model method) that uses its models
    needs_target: bool = True  #: whether ``labcoat.fit`` must be given a target column
    #: The settings of ``labcoat fit`` it cannot do without (beside the data).
    required: tuple[str, ...] = ()

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        return _attribute(self.entry)(*args, **kwargs)

    def load(self, folder: Any) -> Any:
        """The model saved in ``folder``."""
        return _attribute(self.model).load(folder)

    def write_report(self, model: Any, folder: Any) -> Any:
        return _attribute(self.report)(model, folder)

    def record_run(self, model: Any, **settings: Any) -> str:
        return str(_attribute(self.record)(model, **settings))


def _attribute(reference: str) -> Any:
    module, name = reference.split(":")
    return getattr(importlib.import_module(module), name)


_PIPELINES: dict[str, PipelineTask] = {}


def register_pipeline_task(task: PipelineTask) -> PipelineTask:
    """Add a task with a pipeline of its own under ``task.name``."""
    if task.name in _TASKS or task.name in _PIPELINES:
        raise ConfigError(f"A task called {task.name!r} is already registered.")
    _PIPELINES[task.name] = task
    return task


def pipeline_task(name: str | Task | None) -> PipelineTask | None:
    """The task with a pipeline of its own called ``name``, or None (a row task, or no name)."""
    return _PIPELINES.get(str(name).lower()) if isinstance(name, str) else None


def saved_kind(folder: Any) -> PipelineTask | None:
    """The task with a pipeline of its own whose model is saved in ``folder`` (its
    ``labcoat.json`` names it as ``kind``), or None (a row model, or no model).

    >>> saved_kind("/nonexistent") is None
    True
    """
    import json
    from pathlib import Path

    meta = Path(folder) / "labcoat.json"
    try:
        kind = json.loads(meta.read_text()).get("kind") if meta.is_file() else None
    except (OSError, ValueError):
        return None
    return _PIPELINES.get(kind) if isinstance(kind, str) else None


def task_names() -> list[str]:
    """The registered tasks' names: the row tasks in detection order, then the others."""
    return [*_TASKS, *_PIPELINES]


def resolve_task(y: pd.Series, target: str, requested: str | Task | None = None, *,
                 metric: str | None = None) -> Task:
    """The task for target ``y`` (missing values removed): ``requested``, else the one a
    ``metric`` implies (a metric of one task only), else the first task that detects ``y``;
    checked against the target and refined by its classes."""
    if requested is None and metric is not None:
        tasks = get_metric(metric).tasks
        requested = next(iter(tasks)) if len(tasks) == 1 else None
    if requested is not None:
        task = get_task(requested)
    else:
        values = y.dropna()
        detected = next((t for t in _TASKS.values() if t.detect(values)), None)
        if detected is None:
            raise ConfigError(f"Cannot tell which task target '{target}' is for; pass task= "
                              f"(one of {listed(_TASKS)}).")
        task = detected
    task.check_target(y, target)
    return task.refine(task.classes(y))


def infer_schema(frame: pd.DataFrame, target: str, task: str | Task | None = None, *,
                 metric: str | None = None) -> Schema:
    """:meth:`Schema.infer` with the task resolved (:func:`resolve_task`) from the target.

    Examples
    --------
    >>> df = pd.DataFrame({"x": [1.5, 2.5, 3.5, 4.5] * 5, "y": ["a", "b"] * 10})
    >>> infer_schema(df, "y").task
    'binary'
    """
    Schema.check_target_column(frame, target)
    resolved = resolve_task(frame[target], target, task, metric=metric)
    return Schema.infer(frame, target, task=resolved.name, classes=resolved.classes(frame[target]))


for _task in (BinaryTask(), MulticlassTask(), RegressionTask()):
    register_task(_task)
register_pipeline_task(PipelineTask(
    "forecast", "the next values of one or many time series", "labcoat.tasks.forecast.fit:fit_forecast",
    ("series", "horizon", "freq", "known", "holidays", "future", "windows"),
    model="labcoat.tasks.forecast.model:ForecastModel",
    report="labcoat.reports.forecast_report:write_forecast_report",
    record="labcoat.tracking.forecast_run:record_forecast", command="forecast",
    required=("target", "horizon", "time_column")))
register_pipeline_task(PipelineTask(
    "recommend", "items to suggest to each user, learned from their interactions",
    "labcoat.tasks.recommend.fit:fit_recommend",
    ("user", "item", "rating", "time", "items", "users", "split", "threshold"),
    model="labcoat.tasks.recommend.model:RecommendModel",
    report="labcoat.reports.recommend_report:write_recommend_report",
    record="labcoat.tracking.recommend_run:record_recommend", command="recommend", needs_target=False,
    required=("user", "item")))
register_pipeline_task(PipelineTask(
    "match", "the records of one table (or of two) that are the same entity", "labcoat.tasks.match.fit:fit_match",
    ("other", "id_column", "labels", "settings", "threshold", "costs", "columns", "backend", "spark"),
    model="labcoat.tasks.match.model:MatchModel", report="labcoat.reports.match_report:write_match_report",
    record="labcoat.tracking.match_run:record_match", command="match", needs_target=False))
register_pipeline_task(PipelineTask(
    "anomaly", "unusual rows (anomalies, fraud), found with few labels or none",
    "labcoat.tasks.anomaly.fit:fit_anomaly",
    ("labels", "contamination", "alerts_per_day", "costs", "exclude", "entity_column"),
    model="labcoat.tasks.anomaly.model:AnomalyModel",
    report="labcoat.reports.anomaly_report:write_anomaly_report",
    record="labcoat.tracking.anomaly_run:record_anomaly", command="predict", needs_target=False))
register_pipeline_task(PipelineTask(
    "segment", "groups of similar rows (segments) found without labels, described in words",
    "labcoat.tasks.segment.fit:fit_segment", ("k", "exclude", "projection"),
    model="labcoat.tasks.segment.model:SegmentModel", report="labcoat.reports.segment_report:write_segment_report",
    record="labcoat.tracking.segment_run:record_segment", command="predict", needs_target=False))
register_pipeline_task(PipelineTask(
    "extract", "entities (names, places, amounts...) found in text, learned from labelled examples",
    "labcoat.tasks.extract.fit:fit_extract", (),
    model="labcoat.tasks.extract.model:ExtractModel", report="labcoat.reports.extract_report:write_extract_report",
    record="labcoat.tracking.extract_run:record_extract", command="extract", needs_target=False))

__all__ = ["BinaryOptions", "ClassificationOptions", "ClassificationTask", "EstimatorType", "PostFit",
           "PipelineTask", "Task", "TaskOptions", "get_task", "infer_schema", "pipeline_task",
           "register_pipeline_task", "register_task", "resolve_task", "saved_kind", "task_names"]
