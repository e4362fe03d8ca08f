"""The ``labcoat`` command: a thin Typer layer over the Python API."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(help="labcoat: AutoML for tables, from data to a model that predicts.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
MODEL_HELP = "Model folder, runs:/RUN_ID/model, models:/NAME/VERSION or models:/NAME@ALIAS."
TRACKING_HELP = "MLflow store or server (default: $MLFLOW_TRACKING_URI, else .labcoat/ here)."


def _err(text: str) -> None:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(text, highlight=False)


def _show_notices(caught: list[warnings.WarningMessage]) -> None:
    from labcoat.errors import LabcoatNotice

    for w in caught:
        if issubclass(w.category, LabcoatNotice):
            _err(f"[yellow]notice:[/] {w.message}")


@app.command()
def fit(data: Optional[Path] = typer.Argument(None, help="CSV, TSV, Parquet, JSON lines or Excel file."),
        target: str = typer.Option(..., "--target", "-t", help="Column to predict."),
        budget: Optional[str] = typer.Option(None, help="Time budget: 30s, 5m, 1h (default 1m)."),
        trials: Optional[int] = typer.Option(None, help="Stop after this many trials (deterministic with --seed)."),
        metric: Optional[str] = typer.Option(None), task: Optional[str] = typer.Option(None),
        seed: int = typer.Option(0), families: Optional[str] = typer.Option(None, help="Comma-separated families."),
        sql: Optional[str] = typer.Option(None, help="SQL query instead of DATA."),
        db: Optional[Path] = typer.Option(None, help="DuckDB or SQLite file for --sql."),
        out: Path = typer.Option(Path("labcoat-model"), help="Directory to save the model in."),
        tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP),
        experiment: str = typer.Option("labcoat", help="MLflow experiment to record the run in."),
        register: Optional[str] = typer.Option(None, help="Also register the model under this name."),
        no_track: bool = typer.Option(False, "--no-track", help="Do not record the study in MLflow."),
        strict: bool = typer.Option(False, "--strict", help="Stop when a guard finds a serious problem."),
        quiet: bool = typer.Option(False, "--quiet", "-q"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Find, tune and ensemble the best model for TARGET, save it and record the study."""
    import labcoat
    from labcoat.data.io import read_table
    from labcoat.tracking.lineage import describe_source

    frame = read_table(data, sql=sql, db=db) if sql else read_table(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = labcoat.fit(frame, target, budget=budget, trials=trials, metric=metric, task=task, seed=seed,
                            families=families.split(",") if families else None, quiet=quiet or as_json,
                            track=not no_track, tracking_uri=tracking_uri, experiment=experiment,
                            register=register, source=describe_source(data, sql, db), strict=strict)
    path = model.save(out)
    if as_json:
        from labcoat.errors import LabcoatNotice

        print(json.dumps({"model": str(path), "metric": model.metric, "score": model.info["ensemble_score"],
                          "n_rows": model.info["n_rows"], "run_id": model.info.get("run_id"),
                          "registered": model.info.get("registered"),
                          "leaderboard": model.leaderboard.to_dict("records"),
                          "ensemble": model.ensemble.to_dict("records"),
                          "notices": [str(w.message) for w in caught
                                      if issubclass(w.category, LabcoatNotice)]}, default=str))
        return
    _show_notices(caught)
    _print_model(model)
    print(f"Saved to {path}")
    if model.info.get("run_id"):
        print(f"Recorded as run {model.info['run_id']} (labcoat runs show {model.info['run_id']})")
    if model.info.get("registered"):
        print(f"Registered as {model.info['registered']}")


@app.command()
def predict(model: str = typer.Argument(..., help=MODEL_HELP),
            data: Path = typer.Argument(..., help="Rows to predict."),
            output: Optional[Path] = typer.Option(None, "-o", "--output", help="CSV or Parquet file to write."),
            tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Predict DATA with MODEL; probabilities are included for classifiers."""
    import labcoat
    from labcoat.data.io import read_table

    m = labcoat.load(model, tracking_uri=tracking_uri)
    frame = read_table(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = m.predict_frame(frame)
    _show_notices(caught)
    if output is None:
        print(result.to_csv(index=False), end="")
    elif output.suffix.lower() in (".parquet", ".pq"):
        result.to_parquet(output, index=False)
    else:
        result.to_csv(output, index=False)


@app.command()
def info(model: str = typer.Argument(..., help=MODEL_HELP), as_json: bool = typer.Option(False, "--json"),
         tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Show a saved model: schema, leaderboard, ensemble."""
    import labcoat

    m = labcoat.load(model, tracking_uri=tracking_uri)
    if as_json:
        print(json.dumps({"info": m.info, "schema": m.schema.to_dict(),
                          "leaderboard": m.leaderboard.to_dict("records"),
                          "ensemble": m.ensemble.to_dict("records")}, default=str))
        return
    from rich.console import Console

    Console().print(m.schema.to_frame().to_string(index=False))
    _print_model(m)


@app.command()
def compare(model: str = typer.Argument(..., help=MODEL_HELP),
            candidates: list[str] = typer.Argument(..., help="Two or more families or trial numbers."),
            as_json: bool = typer.Option(False, "--json"),
            tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Are the candidates of MODEL's search really different? Paired tests on the same folds."""
    import labcoat

    results = labcoat.load(model, tracking_uri=tracking_uri).compare(*candidates)
    if as_json:
        print(json.dumps(results))
        return
    for r in results:
        print(r["verdict"] + (" (Holm-adjusted)" if r["holm_adjusted"] else ""))


@app.command()
def schema(data: Path = typer.Argument(...), target: str = typer.Option(..., "--target", "-t"),
           task: Optional[str] = typer.Option(None), as_json: bool = typer.Option(False, "--json")) -> None:
    """Infer and print the column roles and the task, without training."""
    from labcoat.data.io import read_table
    from labcoat.data.schema import Schema, drop_missing_target

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = Schema.infer(drop_missing_target(read_table(data), target), target, task)
    if as_json:
        print(s.to_json())
        return
    _show_notices(caught)
    print(f"target '{s.target}': {s.task.value}")
    print(s.to_frame().to_string(index=False))


def _print_model(model: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Leaderboard ({model.metric}, {model.info['resampling']})")
    for name in ("rank", "family", "score", "95% interval", "p vs best", "fit s", "weight", "status"):
        table.add_column(name)
    for r in model.leaderboard.head(10).itertuples():
        p = getattr(r, "p_vs_best", float("nan"))
        table.add_row(str(r.rank), r.family, f"{r.score:.4f}", _interval(r), "" if p != p else f"{p:.3f}",
                      f"{r.fit_time:.1f}", f"{r.ensemble_weight:.2f}", r.status)
    Console(width=None if sys.stdout.isatty() else 160).print(table)  # piped: not cut to 80 columns
    print(f"Ensemble out-of-fold {model.metric}: {model.info['ensemble_score']:.4f}")


def _interval(row: Any) -> str:
    low, high = getattr(row, "score_low", float("nan")), getattr(row, "score_high", float("nan"))
    return "" if low != low or high != high else f"[{low:.4f}, {high:.4f}]"


def _version(value: bool) -> None:
    if value:
        from labcoat import __version__

        print(f"labcoat {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True)) -> None:
    """labcoat: AutoML for tables."""


from labcoat.cli_tracking import models_app, runs_app  # noqa: E402  (they use the helpers above)

app.add_typer(models_app, name="models")
app.add_typer(runs_app, name="runs")


def main() -> None:
    """Console entry point: user errors print one line and exit 2, without a traceback."""
    from labcoat.errors import LabcoatError

    try:
        code = app(standalone_mode=False)
        if code == 130:  # Typer turns Ctrl-C into this return value outside standalone mode
            _err("[red]interrupted[/]")
        if isinstance(code, int) and code:
            sys.exit(code)
    except LabcoatError as error:
        _err(f"[red]error:[/] {error}")
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        _err("[red]interrupted[/]")
        sys.exit(130)
    except (typer.Exit, SystemExit) as done:
        sys.exit(getattr(done, "exit_code", getattr(done, "code", 0)))
    except Exception as error:
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(2)
        raise
