"""The ``labcoat`` command: a thin Typer layer over the Python API.

``app`` is assembled here from one module per command group (``core``: fit, predict, info,
compare, schema; ``tracking``: models, runs; ``reports``: profile, report; ``explain``;
``serve``: serve, log; ``recommend``: recommend, evaluate-policy; ``match``; ``extract``; ``retrain``; ``monitor``; ``watch``), which share the helpers of
``_shared`` and import neither each other nor this package. ``main`` is the console script.
"""

from __future__ import annotations

import typer

from labcoat.cli import core, explain, extract, match, monitor, recommend, reports, retrain, serve, tracking, watch
from labcoat.cli._shared import run

__all__ = ["app", "main"]

app = typer.Typer(help="labcoat: AutoML for tables, from data to a model that predicts.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        from labcoat import __version__

        print(f"labcoat {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True)) -> None:
    """labcoat: AutoML for tables."""


# In this order in `labcoat --help`.
for command in (core.fit, core.predict, core.forecast, recommend.recommend, match.match, extract.extract, core.info,
                core.compare, core.schema):
    app.command()(command)
app.add_typer(tracking.models_app, name="models")
app.add_typer(tracking.runs_app, name="runs")
app.command()(reports.profile)
app.command()(reports.report)
app.command()(explain.explain)
app.command()(serve.serve)
app.add_typer(serve.log_app, name="log")
app.command()(retrain.retrain)
app.command()(monitor.monitor)
app.command()(watch.watch)
app.command("evaluate-policy")(recommend.evaluate_policy)


def main() -> None:
    """Console entry point: user errors print one line and exit 2, without a traceback."""
    run(app)
