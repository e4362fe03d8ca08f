"""``labcoat.monitor(...)``: one monitoring check of a model on a window of current rows.

The model's training reference (``Model.reference``) against the current rows: drift per
column and of the dataset, drift of the predictions, schema violations, and, when labels are
at hand, the score with its interval against the training estimate and a test of
degradation. The result goes to an HTML report, a JSON document and a tracking run linked to
the model; its exit code (0 / 1) serves cron and CI.

Fewer than :data:`MIN_ROWS` current rows is an error (exit code 2), not a verdict: a check on a
handful of rows could say neither "drift" nor "no drift", and a scheduled job should notice that
it did not check anything.

Examples
--------
>>> import labcoat
>>> result = labcoat.monitor("models:/churn@champion", current="last_week.parquet",  # doctest: +SKIP
...                          labels="outcomes.csv", id_column="customer_id", report="monitor.html")
>>> print(result)                                                                   # doctest: +SKIP
Drift detected: 3 of 6 columns changed (50%): tenure, plan, region; at or above the 50% ...
>>> result.exit_code                                                                # doctest: +SKIP
1
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from labcoat.errors import ConfigError, DataError, ModelFileError
from labcoat.lifecycle import current as source
from labcoat.lifecycle.current import CHUNK_ROWS, Chunk, Window
from labcoat.monitoring.drift import DriftOptions, detect_drift
from labcoat.monitoring.labels import Labels
from labcoat.monitoring.performance import TOLERANCE, assess, training_estimate
from labcoat.monitoring.result import MonitorResult
from labcoat.lifecycle.scoring import Labelled, scored

if TYPE_CHECKING:
    from labcoat.model import Model

#: Fewer current rows than this: no check (an error).
MIN_ROWS = 30
#: The prediction log ``labcoat serve`` writes by default.
DEFAULT_LOG = "predictions.db"
#: The column the predictions travel in next to the features (see ``detect_drift``).
_PREDICTION = "__labcoat_prediction__"


def monitor(model: Model | str | Path, *, current: Any = None, from_log: str | Path | bool | None = None,
            since: str | None = None, labels: Any = None, label_column: str | None = None,
            id_column: str | None = None, options: DriftOptions | dict[str, Any] | None = None,
            report: str | Path | None = None, tracking_uri: str | None = None, track: bool = True,
            experiment: str | None = None, tolerance: float = TOLERANCE,
            chunk_rows: int = CHUNK_ROWS) -> MonitorResult:
    """Check ``model`` (an object, a folder, ``runs:/`` or ``models:/`` URI) on a window of
    current rows for drift and, with labels, for a drop in performance.

    Parameters
    ----------
    current : rows to check (a frame or a file; CSV, Parquet and JSON lines are streamed in
        chunks of ``chunk_rows``). If they hold the target column, it is used as labels.
    from_log : instead, the prediction log of ``labcoat serve`` (a path; ``True``:
        ``predictions.db``): the requests this model answered (its served name and version),
        with their logged outputs and the labels sent to ``/feedback``.
    since : with ``from_log``, only requests since ``24h``, ``30m``, ``7d`` or a date.
    labels : with ``current``, a file or frame of labels, joined by ``id_column`` (in both) or
        by row order; the label column is ``label_column``, default the model's target.
    options : :class:`~labcoat.monitoring.drift.DriftOptions` or its fields as a dict (``share``,
        per-column ``columns`` settings, ...).
    report : write the HTML report there (None: no file).
    track : log the check as a run of experiment ``labcoat-monitor`` (metrics, the JSON and the
        report as artifacts, tags naming the model).
    tolerance : a drop smaller than this share of the training estimate is never a degradation.

    Raises :class:`~labcoat.errors.LabcoatError` (exit code 2 in the CLI) on bad input: no
    reference in the model, a missing file or column, fewer than 30 current rows.
    """
    if (current is None) == (from_log in (None, False)):
        raise ConfigError("Give the rows to check: current data (--current FILE) or the prediction log "
                          "(--from-log), one of the two.")
    if since is not None and from_log in (None, False):
        raise ConfigError("--since selects requests of the prediction log; use it with --from-log.")
    if labels is not None and current is None:
        raise ConfigError("--labels goes with --current; with --from-log the labels are those sent to /feedback.")
    if label_column is not None and labels is None and current is None:
        raise ConfigError("--label-column names the label column of --labels or --current; the log's labels "
                          "come from /feedback.")
    if id_column is not None and labels is None:
        raise ConfigError("--id-column joins --labels to the current rows; give --labels too.")
    drift_options = _options(options)
    if track:  # a bad tracking URI fails before any work, as in fit
        from labcoat.tracking import store

        store.client(tracking_uri)
    loaded, identity = _load(model, tracking_uri)
    reference = getattr(loaded, "reference", None)
    if reference is None:
        raise ModelFileError(f"The model {identity['label']} has no reference profile (reference.json): it was "
                             "saved by a labcoat version without monitoring. Fit it again to monitor it.")
    target = label_column or loaded.schema.target
    if from_log is not None and from_log is not False:
        name, version = source.served_identity(model, tracking_uri)
        window = source.from_log(DEFAULT_LOG if from_log is True else from_log, loaded, since=since,
                                 name=name, version=version, chunk_rows=chunk_rows)
    else:
        window = source.from_data(current, chunk_rows=chunk_rows)
    given = Labels.read(labels, label_column=target, id_column=id_column) if labels is not None else None
    sink = Labelled()
    chunks = scored(loaded, _labelled(window.chunks, given, target, window), sink)
    drift = detect_drift(reference, (_with_prediction(rows, pred) for rows, pred in chunks),
                         options=drift_options, predictions=_PREDICTION if reference.prediction else None)
    if drift.current_rows < MIN_ROWS:
        raise DataError(f"Only {drift.current_rows} current row(s) in {window.source}; a check needs at least "
                        f"{MIN_ROWS}. Widen the window (--since) or give more rows.")
    if given is not None:
        given.check_consumed(drift.current_rows)
    performance = None
    if window.facts.get("labels"):
        from labcoat.evaluate.metrics import get_metric

        performance = assess(sink.y, sink.predictions, get_metric(loaded.metric, loaded.task.name),
                             training_estimate(loaded), stratify=loaded.task.stratified,
                             tolerance=tolerance, seed=int(loaded.info.seed))
    created = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    result = MonitorResult(model=identity, window={"source": window.source, **window.facts}, drift=drift,
                           performance=performance, created=created,
                           report=str(report) if report is not None else None,
                           roles={**{n: c.role for n, c in reference.columns.items()},
                                  **({"prediction": reference.prediction.role} if reference.prediction else {})},
                           reference_values={n: c.present for n, c in reference.columns.items()})
    _output(result, report, track, tracking_uri, experiment)
    return result


def _output(result: MonitorResult, report: str | Path | None, track: bool, tracking_uri: str | None,
            experiment: str | None) -> None:
    """Write the report, and log the check with it as a tracking run."""
    from labcoat.monitoring.record import EXPERIMENT, open_run
    from labcoat.reports.monitor_report import monitor_report

    run = open_run(f"monitor {result.model['label']}", tracking_uri, experiment or EXPERIMENT) if track else None
    try:
        if run is not None:
            result.run_id = run.run_id
        html = monitor_report(result.to_dict()) if report is not None or run is not None else ""
        if report is not None:
            _write(Path(report), html)
        if run is not None:
            with tempfile.TemporaryDirectory(prefix="labcoat-monitor-") as scratch:
                page = Path(scratch) / "monitor-report.html"
                page.write_text(html, encoding="utf-8")
                run.finish(result.metrics(), _tags(result), result.to_dict(), params=_params(result),
                           reports=[page])
    except BaseException:
        if run is not None:
            run.fail()
        raise


def _tags(result: MonitorResult) -> dict[str, str]:
    model, window = result.model, result.window
    tags = {"labcoat.verdict": result.headline.lower(), "labcoat.exit_code": str(result.exit_code),
            "labcoat.model": model["reference"] or "in-memory model", "labcoat.task": model["task"],
            "labcoat.metric": model["metric"], "labcoat.window": window["source"],
            "lineage.rows": str(result.drift.current_rows)}
    for key in ("registered_name", "registered_version", "source_run"):
        if model.get(key):
            tags[f"labcoat.model.{key}"] = str(model[key])
    if result.drifted:
        tags["labcoat.drifted_columns"] = ", ".join(c.name for c in result.columns if c.drifted)
    return tags


def _params(result: MonitorResult) -> dict[str, str]:
    d = result.drift
    out = {"target": str(result.model["target"]), "share_threshold": str(d.share_threshold)}
    if result.window.get("since"):
        out["since"] = str(result.window["since"])
    return out


def _load(model: Model | str | Path, tracking_uri: str | None) -> tuple[Model, dict[str, Any]]:
    """The model and what identifies it: reference, label for people, registered name and
    version, the run that trained it, target, task and metric."""
    from labcoat.api import load_described, row_model
    from labcoat.model import Model

    described: dict[str, Any] | None = None
    if isinstance(model, Model):
        loaded, reference = model, None
    elif isinstance(model, (str, Path)):
        reference = str(model)
        found, described = load_described(reference, tracking_uri=tracking_uri)
        loaded = row_model(found, reference)
        if not reference.startswith("models:/"):
            described = None  # a run's or folder's model has no registered name and version
    else:
        raise ConfigError(f"Cannot monitor a {type(model).__name__}: give a labcoat Model, a model folder, "
                          "runs:/RUN_ID/model or models:/NAME/VERSION.")
    identity: dict[str, Any] = {"reference": reference, "label": reference or "in-memory model",
                                "target": loaded.schema.target, "task": loaded.task.name, "metric": loaded.metric,
                                "source_run": loaded.info.run_id}
    if described is not None:
        identity.update(registered_name=described["name"], registered_version=described["version"],
                        registered=f"models:/{described['name']}/{described['version']}",
                        label=f"{described['name']} v{described['version']}")
    elif reference is not None and not reference.startswith("runs:/"):
        identity["label"] = Path(reference).name or reference
    return loaded, identity


def _labelled(chunks: Any, given: Labels | None, target: str, window: Window) -> Iterator[Chunk]:
    """The chunks with their labels: from ``--labels``, else the target column when the rows
    have it, else those the source brought (the log's /feedback)."""
    for chunk in chunks:
        if given is not None:
            chunk.labels = given.lookup(chunk.rows)
        elif chunk.labels is None and target in chunk.rows.columns:
            chunk.labels = chunk.rows[target]
        if given is not None or (chunk.labels is not None and chunk.labels.notna().any()):
            window.facts["labels"] = ("--labels" if given is not None else
                                      f"the '{target}' column" if chunk.outputs is None else "/feedback")
        yield chunk


def _with_prediction(rows: pd.DataFrame, prediction: pd.Series) -> pd.DataFrame:
    return rows.assign(**{_PREDICTION: prediction.to_numpy()})


def _options(options: DriftOptions | dict[str, Any] | None) -> DriftOptions:
    if options is None or isinstance(options, DriftOptions):
        return options or DriftOptions()
    try:
        return DriftOptions(**options)
    except TypeError as error:
        raise ConfigError(f"Drift options: {error}. Known: share, columns, prediction, missing_alpha, "
                          "missing_min_rise.") from None


def _write(path: Path, html: str) -> None:
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"Cannot write the report to '{path}': {error.strerror or error}. Give a writable "
                          "file path with --report.") from None
