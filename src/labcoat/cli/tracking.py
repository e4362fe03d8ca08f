"""``labcoat models ...`` and ``labcoat runs ...``: the registry and the recorded studies."""
from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer

from labcoat.cli._shared import TRACKING_HELP

models_app = typer.Typer(help="Registered models: register, list, show, promote, rollback, delete.",
                         no_args_is_help=True)
runs_app = typer.Typer(help="Recorded studies: list and show.", no_args_is_help=True)

Uri = typer.Option(None, "--tracking-uri", help=TRACKING_HELP)
Json = typer.Option(False, "--json", help="Machine-readable output.")


def _emit(data: Any, as_json: bool, render: Any) -> None:
    if as_json:
        print(json.dumps(data, default=str))
    else:
        render(data)


def _table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=column in ("run", "run_id", "date"))
    for row in rows:
        table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in columns])
    # Piped output is not cut to 80 columns: run ids must stay whole to be copied.
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240).print(table)


def _split(spec: str) -> tuple[str, Optional[str]]:
    name, _, version = spec.partition("/")
    return name, version or None


@models_app.command("register")
def register(run: str = typer.Argument(..., help="RUN_ID or runs:/RUN_ID/model."),
             name: str = typer.Option(..., "--name", "-n"), tracking_uri: Optional[str] = Uri) -> None:
    """Register the model of RUN as a new version of NAME."""
    from labcoat.tracking.registry import register as do

    version = do(run, name, tracking_uri)
    print(f"Registered models:/{name}/{version}")


@models_app.command("list")
def list_(tracking_uri: Optional[str] = Uri, as_json: bool = Json) -> None:
    """Every registered model with its latest version and aliases."""
    from labcoat.tracking.registry import list_models

    _emit(list_models(tracking_uri), as_json,
          lambda rows: _table(rows, ["name", "versions", "latest", "aliases"], "Registered models"))


@models_app.command("show")
def show(spec: str = typer.Argument(..., help="NAME or NAME/VERSION."), tracking_uri: Optional[str] = Uri,
         as_json: bool = Json) -> None:
    """A registered model's versions and aliases, or one version."""
    from labcoat.tracking.registry import show as do

    name, version = _split(spec)

    def render(data: dict[str, Any]) -> None:
        if "versions" not in data:
            _table([data], ["name", "version", "aliases", "run_id", "source"], f"{name} version {version}")
            return
        _table(data["versions"], ["version", "aliases", "run_id", "source"],
               f"{name} (aliases {data['aliases'] or 'none'})")

    _emit(do(name, version, tracking_uri), as_json, render)


@models_app.command("promote")
def promote(name: str, version: str, alias: str = typer.Option("champion", help="champion or challenger."),
            tracking_uri: Optional[str] = Uri) -> None:
    """Point ALIAS (default champion) at VERSION of NAME."""
    from labcoat.tracking.registry import promote as do

    do(name, version, alias, tracking_uri)
    print(f"models:/{name}@{alias} -> version {version}")


@models_app.command("rollback")
def rollback(name: str, tracking_uri: Optional[str] = Uri) -> None:
    """Move NAME's champion back to the version it pointed at before."""
    from labcoat.tracking.registry import rollback as do

    print(f"models:/{name}@champion -> version {do(name, tracking_uri)}")


@models_app.command("delete")
def delete(spec: str = typer.Argument(..., help="NAME/VERSION."),
           force: bool = typer.Option(False, "--force", help="Delete even the current champion."),
           tracking_uri: Optional[str] = Uri) -> None:
    """Delete one version of a registered model."""
    from labcoat.errors import RegistryError
    from labcoat.tracking.registry import delete as do

    name, version = _split(spec)
    if version is None:
        raise RegistryError(f"Give the version to delete as NAME/VERSION, e.g. {name}/1.")
    do(name, version, force, tracking_uri)
    print(f"Deleted models:/{name}/{version}")


@runs_app.command("list")
def runs_list(limit: int = typer.Option(50, help="How many of the latest runs."),
              experiment: str = typer.Option("labcoat"), tracking_uri: Optional[str] = Uri,
              as_json: bool = Json) -> None:
    """The latest studies: run, date, data fingerprint, task, metric with spread, best family."""
    from labcoat.tracking.runs import list_runs

    def render(rows: list[dict[str, Any]]) -> None:
        shown = [{**r, "score": _score(r)} for r in rows]
        _table(shown, ["run", "date", "status", "data", "target", "task", "metric", "score", "best_family"],
               f"Runs in experiment '{experiment}'")

    _emit(list_runs(limit, tracking_uri, experiment), as_json, render)


@runs_app.command("show")
def runs_show(run: str, tracking_uri: Optional[str] = Uri, as_json: bool = Json) -> None:
    """One study: settings, lineage, scores and leaderboard."""
    from labcoat.tracking.runs import show_run

    def render(data: dict[str, Any]) -> None:
        from rich.console import Console

        console = Console(soft_wrap=True)
        console.print(f"run {data['run']}  {data['status']}  {data['date']}  "
                      f"{data['metric']} {_score(data)}  model: {data['model_uri']}", highlight=False)
        if data.get("error"):
            console.print(f"error: {data['error']}", highlight=False)
        _table([{"key": k, "value": v} for k, v in {**data["params"], **data["lineage"]}.items()],
               ["key", "value"], "Settings and lineage")
        if data["leaderboard"]:
            _table(data["leaderboard"][:15], ["rank", "family", "score", "score_std", "fit_time", "status"],
                   "Leaderboard")

    _emit(show_run(run, tracking_uri), as_json, render)


def _score(row: dict[str, Any]) -> str:
    if row.get("score") is None:
        return ""
    spread = row.get("score_std")
    return f"{row['score']:.4f}" + (f" ± {spread:.4f}" if spread is not None else "")
