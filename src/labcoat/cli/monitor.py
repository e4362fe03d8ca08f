"""``labcoat monitor MODEL``: drift, schema checks and performance of a model on current rows.

Exit code 0 when nothing needs attention, 1 on drift or degradation, 2 on an error, so that
cron and CI can act on it.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Optional

import typer

from labcoat.cli._shared import MODEL_HELP, TRACKING_HELP, show_notices, unique


def monitor(model: str = typer.Argument(..., help=MODEL_HELP),
            current: Optional[Path] = typer.Option(
                None, "--current", "-c", help="Rows to check (CSV, Parquet, JSON lines: streamed; or Excel). "
                "If they hold the target, it is used as labels."),
            from_log: bool = typer.Option(False, "--from-log", help="Check the requests `labcoat serve` logged "
                                          "for this model instead (see --log, --since)."),
            log: Path = typer.Option(Path("predictions.db"), "--log", help="The prediction log, for --from-log."),
            since: Optional[str] = typer.Option(None, help="With --from-log: requests since 24h, 30m, 7d or a date."),
            labels: Optional[Path] = typer.Option(None, "--labels", help="Labels of the --current rows, joined by "
                                                  "--id-column or by row order."),
            label_column: Optional[str] = typer.Option(None, help="Label column of --labels (default: the target)."),
            id_column: Optional[str] = typer.Option(None, help="Id column in both --current and --labels."),
            share: Optional[float] = typer.Option(None, "--share-threshold", help="Dataset drift when at least this "
                                                  "share of the columns drift (default 0.5)."),
            options: Optional[Path] = typer.Option(
                None, "--options", help='JSON file of drift settings, e.g. {"share": 0.3, "columns": {"age": '
                '{"method": "psi", "threshold": 0.2}}}.'),
            report: Path = typer.Option(Path("monitor-report.html"), "--report", help="HTML report to write."),
            no_report: bool = typer.Option(False, "--no-report", help="Write no HTML report."),
            json_out: Optional[Path] = typer.Option(None, "--json-out", help="Also write the JSON document there."),
            as_json: bool = typer.Option(False, "--json", help="Print the JSON document instead of the summary."),
            tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP),
            no_track: bool = typer.Option(False, "--no-track", help="Do not log the check as a tracking run."),
            chunk_rows: int = typer.Option(100_000, help="Rows read at a time from --current."),
            actuals: Optional[Path] = typer.Option(None, "--actuals", help="Forecast models: the actual values "
                                                   "of the forecast period (series, time and target columns)."),
            tolerance: float = typer.Option(0.1, help="Forecast models: relative rise of MASE tolerated; "
                                            "recommenders: relative fall of the reward per request; segment "
                                            "models: PSI of the segment shares from which a shift is called; "
                                            "extraction models: relative change of an entity type's rate."),
            column: Optional[str] = typer.Option(None, "--column", help="Extraction models: the column of "
                                                 "--current holding the texts (default: 'text', or the only "
                                                 "text column).")) -> None:
    """Check MODEL for drift (per column, dataset, predictions), schema violations and, with
    labels, a drop in performance; a recommender: the reward of the lists it showed (--log,
    --since) and the popularity of what it shows; a segment model: the segments' shares in --current
    (or --from-log) against training; an anomaly model: the alert rate and the score distribution of
    the --current rows against training's; an extraction model: the rate of each entity type and the
    texts' length in --current's --column (or --from-log) against training's. Exit code 0: nothing to
    act on; 1: drift, degradation or a shift; 2: error."""
    from labcoat.lifecycle.check import monitor as check
    from labcoat.api import load_forecaster, load_own

    recommender = load_own(model, "recommend", tracking_uri)
    if recommender is not None:
        _monitor_recommender(recommender[0], log, since, tolerance, json_out, as_json)
    segmenter = load_own(model, "segment", tracking_uri)
    row_options = {"--labels": labels, "--label-column": label_column, "--id-column": id_column,
                   "--share-threshold": share, "--options": options, "--actuals": actuals}
    if segmenter is not None:
        _refuse(model, "a segment model", "the shares of its segments (--current or --from-log, --tolerance)",
                row_options)
        _monitor_segments(segmenter[0], current, log if from_log else None, since, tolerance, json_out, as_json)
    extractor = load_own(model, "extract", tracking_uri)
    if extractor is not None:
        _refuse(model, "an extraction model", "the rates of its entity types and the length of the texts "
                "(--current with --column, or --from-log; --tolerance)", row_options)
        _monitor_extract(extractor[0], current, column, log if from_log else None, since, tolerance, json_out,
                         as_json)
    if column is not None:
        from labcoat.errors import ConfigError

        raise ConfigError("--column names the text column for extraction models; this model is not one.")
    detector = load_own(model, "anomaly", tracking_uri)
    if detector is not None:
        _monitor_anomaly(model, detector, current, log if from_log else None, since, None if no_report else report,
                         json_out, as_json, tracking_uri, not no_track, labels is not None)
    forecaster = load_forecaster(model, tracking_uri)
    if forecaster is not None or actuals is not None:
        _monitor_forecast(model, forecaster, actuals, tolerance, json_out, as_json)
    settings = _settings(options, share)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = check(model, current=current, from_log=log if from_log else None, since=since, labels=labels,
                       label_column=label_column, id_column=id_column, options=settings,
                       report=None if no_report else report, tracking_uri=tracking_uri, track=not no_track,
                       chunk_rows=chunk_rows)
    if not _emit(result.to_dict(), json_out, as_json):
        show_notices(unique(caught))
        for line in result.summary:
            print(line)
        if not no_report:
            print(f"Report: {report}")
        if result.run_id:
            print(f"Recorded as run {result.run_id} (experiment labcoat-monitor)")
    raise typer.Exit(code=result.exit_code)


def _emit(document: dict[str, Any], json_out: Optional[Path], as_json: bool) -> bool:
    """Write the check's JSON document to ``json_out`` and, with ``--json``, print it;
    returns whether it was printed (the summary is then left out)."""
    if json_out is not None:
        _write(json_out, json.dumps(document, indent=2))
    if as_json:
        print(json.dumps(document))
    return as_json


def _monitor_forecast(model: str, forecaster: Any, actuals: Optional[Path], tolerance: float,
                      json_out: Optional[Path], as_json: bool) -> None:
    """``labcoat monitor FORECAST_MODEL --actuals FILE``: realised error against the backtest's;
    exits 0 (as promised), 1 (degraded) or 2 (error)."""
    from labcoat.data.io import read_table
    from labcoat.errors import ConfigError
    from labcoat.tasks.forecast.monitor import check_actuals

    if forecaster is None:
        raise ConfigError(f"--actuals is for forecast models; '{model}' is a row model: use --current.")
    if actuals is None:
        raise ConfigError(f"'{model}' is a forecast model: give the actual values of its forecast period "
                          "with --actuals FILE.")
    result = check_actuals(forecaster[0], read_table(actuals), tolerance=tolerance)
    if not _emit(result.to_dict(), json_out, as_json):
        for line in result.summary:
            print(line)
    raise typer.Exit(code=result.exit_code)


def _monitor_recommender(model: Any, log: Path, since: Optional[str], tolerance: float,
                         json_out: Optional[Path], as_json: bool) -> None:
    """``labcoat monitor RECOMMENDER --log FILE [--since 24h]``: the window's reward against the
    traffic before it, and the popularity of what was shown; exits 0, 1 (alert) or 2 (error)."""
    import time

    from labcoat.lifecycle.recommend_monitor import monitor_recommender
    from labcoat.serve.export import parse_since

    result = monitor_recommender(model, log, since=parse_since(since, now=time.time()), tolerance=tolerance)
    if not _emit(result, json_out, as_json):
        live, reference, popularity = result["live"], result["reference"], result["popularity"]
        print(f"Reward per request {live['reward_per_request']:.4f} [{live['low']:.4f}, {live['high']:.4f}] over "
              f"{live['requests']:,} requests (click-through {live['click_through_rate']:.2%} of "
              f"{live['shown']:,} shown items); reference {reference['reward_per_request']:.4f} "
              f"[{reference['low']:.4f}, {reference['high']:.4f}]: {reference['source']}.")
        print(f"Popularity of what is shown against what was {popularity['against']}: PSI {popularity['psi']:.3f}; "
              f"{popularity['top_decile_share']:.1%} of the shown items in the top decile.")
        for alert in result["alerts"]:
            print(f"ALERT: {alert}")
        if not result["alerts"]:
            print("Nothing to act on.")
    raise typer.Exit(code=result["exit_code"])


def _monitor_segments(model: Any, current: Optional[Path], log: Optional[Path], since: Optional[str],
                      tolerance: float, json_out: Optional[Path], as_json: bool) -> None:
    """``labcoat monitor SEGMENT_MODEL (--current FILE | --from-log [--since 24h])``: the segments'
    shares against training's; exits 0, 1 (shifted) or 2 (error)."""
    import time

    from labcoat.data.io import read_table
    from labcoat.errors import ConfigError
    from labcoat.lifecycle.segment_monitor import check_logged_shares, check_segment_shares
    from labcoat.serve.export import parse_since

    if (current is None) == (log is None):
        raise ConfigError("A segment model is monitored on new rows: give --current FILE or --from-log"
                          + (", not both." if current is not None else "."))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = (check_segment_shares(model, read_table(current), psi_threshold=tolerance, source=str(current))
                  if current is not None else
                  check_logged_shares(model, log or Path(), since=parse_since(since, now=time.time()),
                                      psi_threshold=tolerance))
    if not _emit(result, json_out, as_json):
        show_notices(unique(caught))
        for line in result["summary"]:
            print(line)
    raise typer.Exit(code=result["exit_code"])


def _refuse(model: str, kind: str, how: str, given: dict[str, Any]) -> None:
    """Refuse the options given that do not apply to ``kind`` (monitored by ``how``)."""
    from labcoat.errors import ConfigError

    refused = [name for name, value in given.items() if value is not None]
    if refused:
        raise ConfigError(f"{', '.join(refused)} do not apply to '{model}', {kind}: it is monitored by {how}.")


def _monitor_extract(model: Any, current: Optional[Path], column: Optional[str], log: Optional[Path],
                     since: Optional[str], tolerance: float, json_out: Optional[Path], as_json: bool) -> None:
    """``labcoat monitor EXTRACT_MODEL (--current FILE [--column C] | --from-log [--since 24h])``: the
    entity types' rates and the texts' length against training's; exits 0, 1 (shifted) or 2 (error)."""
    import time

    from labcoat.data.io import read_table
    from labcoat.errors import ConfigError
    from labcoat.lifecycle.extract_monitor import check_extract_texts, check_logged_texts, text_column
    from labcoat.serve.export import parse_since

    if (current is None) == (log is None):
        raise ConfigError("An extraction model is monitored on new texts: give --current FILE (with --column) "
                          "or --from-log" + (", not both." if current is not None else "."))
    if column is not None and current is None:
        raise ConfigError("--column names the text column of --current; the logged texts need none.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = (check_extract_texts(model, text_column(read_table(current), column), tolerance=tolerance,
                                      source=str(current))
                  if current is not None else
                  check_logged_texts(model, log or Path(), since=parse_since(since, now=time.time()),
                                     tolerance=tolerance))
    if not _emit(result, json_out, as_json):
        show_notices(unique(caught))
        for line in result["summary"]:
            print(line)
    raise typer.Exit(code=result["exit_code"])


def _monitor_anomaly(reference: str, detector: Any, current: Optional[Path], log: Optional[Path],
                     since: Optional[str], report: Optional[Path], json_out: Optional[Path], as_json: bool,
                     tracking_uri: Optional[str], track: bool, labels: bool) -> None:
    """``labcoat monitor ANOMALY_MODEL (--current FILE | --from-log [--since 24h])``: the
    window's alert rate and score distribution against training's; exits 0, 1 (a shift) or 2."""
    import time

    from labcoat.data.io import read_table
    from labcoat.errors import ConfigError
    from labcoat.lifecycle.anomaly_monitor import monitor_anomaly, monitor_log, write_outputs
    from labcoat.serve.export import parse_since

    if (current is None) == (log is None) or labels:
        raise ConfigError(f"'{reference}' is an anomaly model: give the rows to check with --current FILE or the "
                          "requests `labcoat serve` logged with --from-log (--labels is for row models).")
    if since is not None and log is None:
        raise ConfigError("--since selects requests of the prediction log; use it with --from-log.")
    if track:  # an unusable store fails here, before any work
        from labcoat.tracking import store

        store.client(tracking_uri)
    model, name, version = detector
    label = name if version == "local" else f"{name} v{version}"
    if log is not None:
        document = monitor_log(model, log, name=name, version=version, since=parse_since(since, now=time.time()),
                               label=label)
    else:
        assert current is not None
        document = monitor_anomaly(model, read_table(current), label=label, source=str(current))
    run_id = write_outputs(document, report=report, track=track, tracking_uri=tracking_uri, reference=reference)
    document["run_id"] = run_id
    if not _emit(document, json_out, as_json):
        rate, scores = document["alert_rate"], document["scores"]
        print(f"Alert rate {rate['window']:.2%} ({rate['alerts']:,} of {rate['rows']:,} rows; 95% interval "
              f"{rate['low']:.2%} to {rate['high']:.2%}) against {rate['training']:.2%} in training "
              f"(binomial p = {rate['p_value']:.3g}).")
        print(f"Scores against training's: KS {scores['ks']:.3f} (p = {scores['p_value']:.3g}), PSI {scores['psi']:.3f}.")
        for alert in document["alerts"]:
            print(f"ALERT: {alert}")
        if not document["alerts"]:
            print("Nothing to act on.")
        if report is not None:
            print(f"Report: {report}")
        if run_id:
            print(f"Recorded as run {run_id} (experiment labcoat-monitor)")
    raise typer.Exit(code=document["exit_code"])


def _settings(path: Optional[Path], share: Optional[float]) -> dict[str, Any] | None:
    """Drift settings from ``--options`` and ``--share-threshold`` (which wins)."""
    from labcoat.errors import ConfigError

    settings: dict[str, Any] = {}
    if path is not None:
        try:
            settings = json.loads(path.read_text())
        except OSError as error:
            raise ConfigError(f"Cannot read --options '{path}': {error.strerror or error}.") from None
        except ValueError as error:
            raise ConfigError(f"--options '{path}' is not valid JSON: {error}.") from None
        if not isinstance(settings, dict):
            raise ConfigError(f"--options '{path}' must hold a JSON object such as {{\"share\": 0.3}}.")
    if share is not None:
        settings["share"] = share
    return settings or None


def _write(path: Path, text: str) -> None:
    from labcoat.errors import ConfigError

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"Cannot write '{path}': {error.strerror or error}.") from None
