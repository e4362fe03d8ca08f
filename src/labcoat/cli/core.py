"""``labcoat fit``, ``predict``, ``info``, ``compare`` and ``schema``: the core commands."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from labcoat.cli._shared import (METRIC_HELP, MODEL_HELP, TASK_HELP, TRACKING_HELP, err, print_saved, show_notices,
                                 unique, write_table)

if TYPE_CHECKING:
    from labcoat.model import Model
    from labcoat.model_info import ModelInfo


def fit(data: Optional[Path] = typer.Argument(None, help="CSV, TSV, Parquet, JSON lines or Excel file."),
        target: Optional[str] = typer.Option(None, "--target", "-t", help="Column to predict (not for "
                                             "--task recommend)."),
        budget: Optional[str] = typer.Option(None, help="Time budget: 30s, 5m, 1h (default 1m)."),
        trials: Optional[int] = typer.Option(None, help="Stop after this many trials (deterministic with --seed)."),
        metric: Optional[str] = typer.Option(None, help=METRIC_HELP),
        task: Optional[str] = typer.Option(None, help=TASK_HELP),
        seed: int = typer.Option(0), families: Optional[str] = typer.Option(
            None, help="Comma-separated families (default: all installed; mlp needs "
                       "labcoat\\[torch])."),
        sql: Optional[str] = typer.Option(None, help="SQL query instead of DATA."),
        db: Optional[Path] = typer.Option(None, help="DuckDB or SQLite file for --sql."),
        out: Path = typer.Option(Path("labcoat-model"), "--out", "-o", help="Directory to save the model in."),
        reports: Optional[Path] = typer.Option(None, help="Directory for the data profile and the model "
                                               "report (default: OUT-reports)."),
        no_report: bool = typer.Option(False, "--no-report", help="Skip explanations and reports."),
        tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP),
        experiment: str = typer.Option("labcoat", help="MLflow experiment to record the run in."),
        register: Optional[str] = typer.Option(None, help="Also register the model under this name."),
        no_track: bool = typer.Option(False, "--no-track", help="Do not record the study in MLflow."),
        strict: bool = typer.Option(False, "--strict", help="Stop when a guard finds a serious problem."),
        test: Optional[Path] = typer.Option(None, "--test", help="Labelled rows to score the final model on "
                                            "(never seen by the search)."),
        holdout: str = typer.Option("auto", help="Share of rows kept out of the search to score the model "
                                    "on: auto (10% from 50,000 rows), 0, or e.g. 0.2."),
        split: str = typer.Option("random", help="random, or time: validate forward in time. Recommend: time "
                                  "(default: test on the latest interactions) or leave_last (each user's last)."),
        time_column: Optional[str] = typer.Option(None, "--time-column", "--time",
                                                  help="Datetime column: for --split time; forecast: the "
                                                  "series' timestamps; recommend: when each interaction happened; "
                                                  "anomaly: when each event happened."),
        text_column: Optional[str] = typer.Option(None, "--text-column", help="The column of documents that "
                                                  "carries the signal: adds the text families (default: found)."),
        embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="A local model2vec or "
                                                  "sentence-transformers model folder: the documents' embeddings "
                                                  "feed the other families too (labcoat\\[text])."),
        calibrate: Optional[str] = typer.Option(
            None, help="Classification: calibrate probabilities: auto (default), none, sigmoid, isotonic; "
                  "three or more classes also temperature or vector."),
        costs: Optional[str] = typer.Option(None, help="Binary: tune the threshold for these costs, e.g. 'fp=1,fn=5'."),
        threshold_metric: Optional[str] = typer.Option(
            None, help="Binary: tune the threshold for f1, balanced_accuracy, accuracy or mcc."),
        latency_limit: Optional[str] = typer.Option(
            None, "--latency-limit", help="The most time one row's prediction may take on this machine, e.g. "
                                          "1ms or 500us: the ensemble is made smaller until it does (default: no "
                                          "limit)."),
        n_jobs: Optional[int] = typer.Option(None, "--n-jobs", help="Cores to use: N > 1 runs N trials at once in "
                                             "worker processes (with --executor ray: at most N at once)."),
        executor: str = typer.Option("local", help="Where trials run: local, or ray (Ray tasks; needs the "
                                     "ray extra of labcoat)."),
        ray_address: Optional[str] = typer.Option(None, help="Ray cluster address HOST:PORT for --executor ray "
                                                  "(default: start Ray on this machine)."),
        series: Optional[str] = typer.Option(None, help="Forecast: comma-separated series-id columns "
                                             "(default: one series)."),
        horizon: Optional[int] = typer.Option(None, help="Forecast: steps to forecast."),
        freq: Optional[str] = typer.Option(None, help="Forecast: the series' frequency (h, D, B, W-MON, MS, QS, "
                                           "YS...; default: inferred)."),
        known: Optional[str] = typer.Option(None, help="Forecast: comma-separated covariates known in advance "
                                            "(prices, promotions); give their future values to `labcoat forecast`."),
        holidays: Optional[str] = typer.Option(None, help="Forecast: public holidays of this country (US, GB, "
                                               "DE...) as a known covariate."),
        user: Optional[str] = typer.Option(None, help="Recommend: the user-id column."),
        item: Optional[str] = typer.Option(None, help="Recommend: the item-id column."),
        rating: Optional[str] = typer.Option(None, help="Recommend: a rating or weight column (default: every "
                                             "interaction counts once)."),
        items: Optional[Path] = typer.Option(None, "--items", help="Recommend: a table of items (the item-id "
                                             "column and their categories, text or numbers)."),
        users: Optional[Path] = typer.Option(None, "--users", help="Recommend: a table of users (the user-id "
                                             "column and what is known of them)."),
        labels_column: Optional[str] = typer.Option(None, "--labels-column", help="Anomaly: a column of known "
                                                    "labels (1 = anomaly, 0 = normal, empty = unknown)."),
        contamination: Optional[float] = typer.Option(None, help="Anomaly: the share of rows to flag (default: "
                                                      "the labels' prevalence, else 0.01)."),
        alerts_per_day: Optional[float] = typer.Option(None, "--alerts-per-day", help="Anomaly: flag this many "
                                                       "rows a day (with --time-column)."),
        entity_column: Optional[str] = typer.Option(None, "--entity-column", help="Anomaly: the entity (card, "
                                                    "account) column: each row gets features over its entity's "
                                                    "earlier events (with --time-column)."),
        k: Optional[int] = typer.Option(None, "--k", help="Segment: the number of segments (default: chosen by "
                                        "silhouette, BIC and stability)."),
        exclude: Optional[str] = typer.Option(None, help="Anomaly, segment: comma-separated columns to leave out."),
        quiet: bool = typer.Option(False, "--quiet", "-q"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Find, tune and ensemble the best model for TARGET, save it and record the study."""
    import labcoat
    from labcoat.data.io import read_table
    from labcoat.search.executors import get_executor
    from labcoat.tasks import pipeline_task
    from labcoat.tracking.lineage import describe_source

    own = pipeline_task(task)
    if own is not None:
        takes_split = "split" in own.options
        takes_costs = "costs" in own.options
        given = {"--trials": trials, "--calibrate": calibrate, "--costs": None if takes_costs else costs,
                 "--threshold-metric": threshold_metric, "--latency-limit": latency_limit,
                 "--test": test, "--sql": sql, "--holdout": None if holdout == "auto" else holdout,
                 "--split": None if split == "random" or takes_split else split, "--strict": strict or None,
                 "--text-column": text_column, "--embeddings": embeddings}
        refused = [name for name, value in given.items() if value is not None]
        if refused:
            err(f"{', '.join(refused)} do not apply to --task {task}; drop them.")
            raise typer.Exit(2)
        _fit_own(data, target, task=str(task), budget=budget, seed=seed, families=families, out=out,
                 tracking_uri=tracking_uri, experiment=experiment, register=register, no_track=no_track,
                 time_column=time_column, metric=metric, quiet=quiet, as_json=as_json,
                 report_dir=None if no_report else reports or out.with_name(out.name + "-reports"), n_jobs=n_jobs,
                 executor=executor, ray_address=ray_address,
                 options=_own_options(str(task), series=series, horizon=horizon, freq=freq, known=known,
                                      holidays=holidays, user=user, item=item, rating=rating, items=items,
                                      users=users, labels=labels_column, contamination=contamination,
                                      alerts_per_day=alerts_per_day, k=k, entity_column=entity_column, exclude=exclude)
                 | ({"split": split} if takes_split and split != "random" else {})
                 | ({"costs": costs} if takes_costs and costs is not None else {}))
        return
    _own_options(None, series=series, horizon=horizon, freq=freq, known=known, holidays=holidays, user=user,
                 item=item, rating=rating, items=items, users=users, labels=labels_column, contamination=contamination,
                 alerts_per_day=alerts_per_day, k=k, entity_column=entity_column, exclude=exclude)
    if target is None:
        raise typer.BadParameter("give the column to predict (every task but recommend needs one).",
                                 param_hint="'--target'")
    get_executor(executor, n_jobs=n_jobs, address=ray_address).check()  # a bad cluster fails before reading
    frame = read_table(data, sql=sql, db=db) if sql else read_table(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = labcoat.fit(frame, target, budget=budget, trials=trials, metric=metric, task=task, seed=seed,
                            families=families.split(",") if families else None, quiet=quiet or as_json,
                            track=not no_track, tracking_uri=tracking_uri, experiment=experiment,
                            register=register, source=describe_source(data, sql, db), strict=strict,
                            calibrate=calibrate, costs=costs, threshold_metric=threshold_metric,
                            test=test, holdout=_holdout(holdout), split=split, time_column=time_column,
                            n_jobs=n_jobs, executor=executor, ray_address=ray_address, report=not no_report,
                            report_dir=None if no_report else reports or out.with_name(out.name + "-reports"),
                            text_column=text_column, embeddings=embeddings, latency_limit=latency_limit)
    path = model.save(out)
    if as_json:
        from labcoat.errors import LabcoatNotice

        print(json.dumps({"model": str(path), "metric": model.metric, "score": model.info.ensemble_score,
                          "n_rows": model.info.n_rows, "run_id": model.info.run_id,
                          "registered": model.info.registered,
                          "leaderboard": model.leaderboard.to_dict("records"),
                          "ensemble": model.ensemble.to_dict("records"),
                          "calibration": model.info.calibration, "threshold": model.info.threshold,
                          "notices": [str(w.message) for w in caught
                                      if issubclass(w.category, LabcoatNotice)]}, default=str))
        return
    show_notices(caught)
    _print_model(model)
    print(f"Saved to {path}")
    for report in model.info.reports:
        print(f"Report: {report}")
    if model.info.run_id:
        print(f"Recorded as run {model.info.run_id} (labcoat runs show {model.info.run_id})")
    if model.info.registered:
        print(f"Registered as {model.info.registered}")


def _own_options(task: str | None, **given: Any) -> dict[str, Any]:
    """The options of ``labcoat fit`` that only some tasks take, given for ``task`` (lists split,
    tables read); one given that ``task`` does not take is refused (exit 2), naming the tasks
    that take it."""
    from labcoat.data.io import read_table
    from labcoat.tasks import pipeline_task, task_names

    own = pipeline_task(task)
    takes = own.options if own else ()
    wrong = [name for name, value in given.items() if value is not None and name not in takes]
    if wrong:
        owners = sorted({t for t in task_names() for name in wrong
                         if (other := pipeline_task(t)) is not None and name in other.options})
        shown = {"labels": "labels-column", "alerts_per_day": "alerts-per-day", "entity_column": "entity-column"}
        err(f"{', '.join(f'--{shown.get(name, name)}' for name in wrong)} apply to --task {' or '.join(owners)} only.")
        raise typer.Exit(2)
    mine = {name: value for name, value in given.items() if value is not None}
    for name in ("series", "known", "exclude"):
        if name in mine:
            mine[name] = mine[name].split(",")
    for name in ("items", "users"):
        if name in mine:
            mine[name] = read_table(mine[name])
    return mine


def _fit_own(data: Optional[Path], target: Optional[str], *, task: str, budget: Optional[str], seed: int,
             families: Optional[str], out: Path, tracking_uri: Optional[str], experiment: str,
             register: Optional[str], no_track: bool, time_column: Optional[str], metric: Optional[str],
             quiet: bool, as_json: bool, report_dir: Optional[Path], n_jobs: Optional[int], executor: str,
             ray_address: Optional[str], options: dict[str, Any]) -> None:
    """``labcoat fit --task forecast|recommend``: fit, save, say what was found."""
    import labcoat
    from labcoat.tracking.lineage import describe_source

    from labcoat.tasks import pipeline_task

    own = pipeline_task(task)
    given = {**options, "target": target, "time_column": time_column}
    missing = ["--" + name.replace("_", "-") for name in (own.required if own else ()) if given.get(name) is None]
    if data is None or missing:
        err(f"--task {task} needs {', '.join(['DATA'] * (data is None) + missing)}.")
        raise typer.Exit(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model: Any = labcoat.fit(data, target, task=task, budget=budget, seed=seed,
                            families=families.split(",") if families else None, quiet=quiet or as_json,
                            track=not no_track, tracking_uri=tracking_uri, experiment=experiment,
                            register=register, source=describe_source(data), time_column=time_column,
                            metric=metric, report=report_dir is not None, report_dir=report_dir, n_jobs=n_jobs,
                            executor=executor, ray_address=ray_address, **options)
    path = model.save(out)
    if as_json:
        print(json.dumps({"model": str(path), "info": model.info,
                          "leaderboard": model.leaderboard.to_dict("records")}, default=str))
        return
    show_notices(caught)
    _print_own(model)
    print_saved(model.info, path)


def forecast(model: str = typer.Argument(..., help=MODEL_HELP),
             future: Optional[Path] = typer.Option(None, "--future", help="Known-in-advance covariates of the "
                                                   "steps ahead (series, time and covariate columns)."),
             history: Optional[Path] = typer.Option(None, "--history", help="Newer actuals to forecast from "
                                                    "(the training table's columns), without searching again."),
             horizon: Optional[int] = typer.Option(None, help="Steps to forecast (default: the fitted horizon)."),
             quantiles: str = typer.Option("0.1,0.5,0.9", help="Comma-separated quantile levels."),
             output: Optional[Path] = typer.Option(None, "-o", "--output", help="CSV or Parquet file to write "
                                                   "(default: CSV on stdout)."),
             tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Forecast the next steps of every series of a forecast MODEL, with quantiles."""
    from labcoat.api import load
    from labcoat.tasks.forecast.model import ForecastModel

    m = load(model, tracking_uri=tracking_uri)
    if not isinstance(m, ForecastModel):
        err(f"'{model}' holds a {m.task.name} model, not a forecast model: use `labcoat predict {model} DATA`.")
        raise typer.Exit(2)
    try:
        levels = [float(q) for q in quantiles.split(",") if q.strip()]
    except ValueError:
        err(f"--quantiles takes numbers between 0 and 1 separated by commas; got {quantiles!r}.")
        raise typer.Exit(2) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = m.forecast(horizon=horizon, future=future, history=history, quantiles=levels)
    show_notices(unique(caught))
    write_table(result, output)
    if output is not None:
        err(f"{len(result):,} forecasts written to {output}")


def _print_own(model: Any) -> None:
    """The summary of a model of a task with a pipeline of its own."""
    from labcoat.tasks.forecast.model import ForecastModel

    if callable(getattr(model, "summary", None)):  # match, anomaly, segment: a summary in words
        print(model.summary())
        return
    (_print_forecaster if isinstance(model, ForecastModel) else _print_recommender)(model)


def _print_recommender(model: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    info = model.info
    table = Table(title=f"Test leaderboard ({info['split']} split: {info['test_users_scored']:,} users' later "
                        f"interactions, every item ranked; 95% intervals over users)")
    for name in ("recommender", "NDCG@10", "95% interval", "recall@20", "hit rate@10", "coverage@10",
                 "p vs chosen", "s", "status"):
        table.add_column(name)

    def number(value: Any, digits: int = 4) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) and value == value else ""

    for r in model.leaderboard.head(15).to_dict("records"):
        ndcg = r.get("ndcg@10")
        table.add_row(("* " if r.get("chosen") else "") + str(r["candidate"]), number(ndcg),
                      f"[{r['ndcg@10_low']:.4f}, {r['ndcg@10_high']:.4f}]" if number(ndcg) else "",
                      number(r.get("recall@20")), number(r.get("hit_rate@10")), number(r.get("coverage@10")),
                      number(r.get("p_value_vs_chosen"), 3), number(r.get("seconds"), 1), str(r.get("status", "")))
    console = Console()
    console.print(table)
    chosen = info.get("chosen") or {}
    console.print(f"Chosen: {chosen.get('name')} ({chosen.get('why', '')}). Preferences: {info.get('preference')}")


def _print_forecaster(model: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    info = model.info
    table = Table(title=f"Backtest leaderboard ({info['windows']} windows of {info['horizon']} steps, "
                        f"{info['n_series']} series, {info['frequency']}; MASE scaled by the seasonal naive of "
                        f"period {info['mase_season']})")
    for name in ("forecaster", "MASE", "95% interval", "sMAPE", "WAPE", "weight", "s", "status"):
        table.add_column(name)
    for r in model.leaderboard.head(15).to_dict("records"):
        mase = r.get("mase")
        scored = isinstance(mase, float) and mase == mase
        table.add_row(str(r["candidate"]), f"{mase:.4f}" if scored else "",
                      f"[{r['mase_low']:.4f}, {r['mase_high']:.4f}]" if scored else "",
                      f"{r['smape']:.2f}" if scored else "", f"{r['wape']:.4f}" if scored else "",
                      "" if r.get("weight") != r.get("weight") or r.get("weight") is None else f"{r['weight']:.2f}",
                      "" if r.get("seconds") != r.get("seconds") or r.get("seconds") is None else f"{r['seconds']:.1f}",
                      str(r.get("status", "")))
    console = Console()
    console.print(table)
    honest = info.get("honest_estimate")
    if honest:
        wql = (f", weighted quantile loss {honest['wql']:.4f} [{honest['wql_low']:.4f}, {honest['wql_high']:.4f}]"
               if "wql" in honest else "")
        console.print(f"Ensemble on the latest window, weights chosen on the older ones: MASE {honest['mase']:.4f} "
                      f"[{honest['mase_low']:.4f}, {honest['mase_high']:.4f}]{wql}.")
    covered = info.get("coverage_80")
    if covered:
        console.print(f"80% intervals covered {100 * covered['share']:.1f}% of the latest window's "
                      f"{covered['values']:,} actual values (intervals built from the older windows).")


def predict(model: str = typer.Argument(..., help=MODEL_HELP),
            data: Path = typer.Argument(..., help="Rows to predict."),
            output: Optional[Path] = typer.Option(None, "-o", "--output", help="CSV or Parquet file to write; "
                                                  "CSV, Parquet and JSON-lines input is streamed in chunks."),
            keep: Optional[str] = typer.Option(None, help="Comma-separated input columns to copy to the output."),
            chunk_rows: int = typer.Option(100_000, help="Rows per chunk when streaming."),
            tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Predict DATA with MODEL; probabilities are included for classifiers."""
    import labcoat
    from labcoat.batch import STREAMED, predict_file, with_columns
    from labcoat.data.io import read_table

    from labcoat.api import load, row_model
    from labcoat.model import Model

    loaded = load(model, tracking_uri=tracking_uri)
    columns = keep.split(",") if keep else None
    if not isinstance(loaded, Model) and callable(getattr(loaded, "predict_frame", None)):
        _predict_own(loaded, data, output, columns)  # a task with a pipeline of its own that predicts rows
        return
    m = row_model(loaded, model)  # loaded once
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if output is not None and data.suffix.lower() in STREAMED and data.is_file():
            rows = predict_file(m, data, output, chunk_rows=chunk_rows, keep=columns)
            result = None
        else:
            frame = read_table(data)
            result = m.predict_frame(frame)
            if columns:
                result = with_columns(frame, columns, result)
    show_notices(unique(caught))
    if result is None:
        err(f"{rows:,} rows scored into {output}")
    else:
        write_table(result, output)


def _predict_own(model: Any, data: Path, output: Optional[Path], keep: Optional[list[str]]) -> None:
    """``labcoat predict`` with a model of a task with a pipeline of its own that predicts
    rows (``predict_frame``): the whole table at once."""
    from labcoat.batch import with_columns
    from labcoat.data.io import read_table

    frame = read_table(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.predict_frame(frame)
    show_notices(unique(caught))
    write_table(with_columns(frame, keep, result) if keep else result, output)
    if output is not None:
        err(f"{len(result):,} rows written to {output}")


def info(model: str = typer.Argument(..., help=MODEL_HELP), as_json: bool = typer.Option(False, "--json"),
         tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Show a saved model: schema, leaderboard, ensemble."""
    from labcoat.api import load
    from labcoat.model import Model

    loaded = load(model, tracking_uri=tracking_uri)
    if not isinstance(loaded, Model):
        if as_json:
            print(json.dumps({"info": loaded.info, "leaderboard": loaded.leaderboard.to_dict("records")},
                             default=str))
        else:
            _print_own(loaded)
        return
    m = loaded
    if as_json:
        print(json.dumps({"info": m.info.to_dict(), "schema": m.schema.to_dict(),
                          "leaderboard": m.leaderboard.to_dict("records"),
                          "ensemble": m.ensemble.to_dict("records")}, default=str))
        return
    from rich.console import Console

    Console().print(m.schema.to_frame().to_string(index=False))
    _print_model(m)


def compare(items: list[str] = typer.Argument(..., help="Two or more models (folders or URIs); or one "
                                              "model and two or more of its families or trial numbers."),
            data: Optional[Path] = typer.Option(None, "--data", help="Labelled rows: score every model "
                                                "again on the same folds of it."),
            seed: int = typer.Option(0, help="Seed of the folds for --data."),
            as_json: bool = typer.Option(False, "--json"),
            tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Is one model really better? Paired tests on the same folds, Holm-adjusted."""
    import labcoat

    results = labcoat.compare(*items, data=data, seed=seed, tracking_uri=tracking_uri)
    if as_json:
        print(json.dumps(results))
        return
    for r in results:
        print(r["verdict"] + (" (Holm-adjusted)" if r["holm_adjusted"] else ""))


def schema(data: Path = typer.Argument(...), target: str = typer.Option(..., "--target", "-t"),
           task: Optional[str] = typer.Option(None, help=TASK_HELP),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Infer and print the column roles and the task, without training."""
    from labcoat.data.io import read_table
    from labcoat.data.infer import drop_missing_target
    from labcoat.tasks import infer_schema

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = infer_schema(drop_missing_target(read_table(data), target), target, task)
    if as_json:
        print(s.to_json())
        return
    show_notices(caught)
    print(f"target '{s.target}': {s.task}")
    print(s.to_frame().to_string(index=False))


def _print_model(model: Model) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Leaderboard ({model.metric}, {model.info.resampling})")
    for name in ("rank", "family", "score", "95% interval", "p vs best", "fit s", "weight", "status"):
        table.add_column(name)
    r: Any  # a leaderboard row: its columns as attributes
    for r in model.leaderboard.head(10).itertuples():
        p = getattr(r, "p_vs_best", float("nan"))
        table.add_row(str(r.rank), r.family, f"{r.score:.4f}", _interval(r), "" if p != p else f"{p:.3f}",
                      f"{r.fit_time:.1f}", f"{r.ensemble_weight:.2f}", r.status)
    Console(width=None if sys.stdout.isatty() else 160).print(table)  # piped: not cut to 80 columns
    if (model.leaderboard["status"] == "stopped").any():
        from labcoat.search.trial import STOPPED_NOTE

        print(STOPPED_NOTE)
    print(f"Ensemble out-of-fold {model.metric}: {model.info.ensemble_score:.4f}")
    for line in _estimate_lines(model.info):
        print(line)
    for line in _decision_lines(model.info):
        print(line)
    if model.info.latency:
        from labcoat.train.latency_limit import describe

        print(describe(model.info.latency, model.metric))


def _estimate_lines(info: ModelInfo) -> list[str]:
    """The selection-corrected estimate and the score on unseen rows, in words."""
    lines = []
    sel, test = info.selection, info.test
    if sel and sel.get("corrected_score") == sel.get("corrected_score"):
        lines.append(f"Corrected for the search's selection: {sel['corrected_score']:.4f} "
                     f"[{sel['low']:.4f}, {sel['high']:.4f}] (search's own estimate {sel['search_score']:.4f}, "
                     f"gap {sel['gap']:+.4f}; {sel['method']})")
    if test:
        lines.append(f"On the {test['source']}: {test['score']:.4f} [{test['low']:.4f}, {test['high']:.4f}]")
    return lines


def _holdout(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        from labcoat.errors import ConfigError

        raise ConfigError(f"--holdout must be auto, 0 or a share such as 0.2; got {text!r}.") from None


def _decision_lines(info: ModelInfo) -> list[str]:
    """The calibration choice and the threshold's effect, in words (see evaluate.calibration and
    evaluate.thresholds)."""
    lines = []
    cal, cut = info.calibration, info.threshold
    if cal:
        how = "chosen" if cal.get("requested") == "auto" else "as asked"
        if "reason" in cal:
            lines.append(f"Calibration: {cal['method']} ({how}; not compared: {cal['reason']})")
        elif cal["method"] == "none":
            lines.append(f"Calibration: none (no calibrator lowered held-out log loss clearly); log loss "
                         f"{cal['log_loss_before']:.4f}, Brier {cal['brier_before']:.4f}")
        else:
            ece = (cal["reliability_before"]["ece"], cal["reliability_after"]["ece"])
            lines.append(f"Calibration: {cal['method']} ({how}); held-out log loss {cal['log_loss_before']:.4f} → "
                         f"{cal['log_loss_after']:.4f}, Brier {cal['brier_before']:.4f} → {cal['brier_after']:.4f}, "
                         f"ECE {ece[0]:.3f} → {ece[1]:.3f}")
    if cut:
        what = ("mean cost per row (" + ", ".join(f"{k}={v:g}" for k, v in cut["costs"].items() if v) + ")"
                if cut["objective"] == "cost" else cut["objective"])
        line = f"Decision threshold: {cut['value']:.3f} for {what}"
        if "at_threshold" in cut:
            low, high = cut["improvement_interval"]
            line += (f"; held-out {cut['at_default']:.4f} at 0.5 → {cut['at_threshold']:.4f}, improvement "
                     f"{cut['improvement']:+.4f} [{low:+.4f}, {high:+.4f}]")
        lines.append(line)
    return lines


def _interval(row: Any) -> str:
    low, high = getattr(row, "score_low", float("nan")), getattr(row, "score_high", float("nan"))
    return "" if low != low or high != high else f"[{low:.4f}, {high:.4f}]"
