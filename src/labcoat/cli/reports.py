"""``labcoat profile DATA`` and ``labcoat report MODEL``: the self-contained HTML reports."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer

from labcoat.cli._shared import MODEL_HELP, TRACKING_HELP


def profile(data: Path = typer.Argument(..., help="CSV, TSV, Parquet, JSON lines or Excel file."),
            target: Optional[str] = typer.Option(None, "--target", "-t",
                                                 help="Column to predict: adds associations and the data checks."),
            output: Path = typer.Option(Path("profile.html"), "-o", "--output", help="HTML file to write."),
            title: Optional[str] = typer.Option(None, help="Title of the page.")) -> None:
    """Profile DATA as one HTML page that opens offline.

    Column types and roles, missing values, distributions, association with the target,
    correlations, and the checks labcoat runs before training (with --target).
    """
    from labcoat.data.io import read_table
    from labcoat.reports.profile import profile_report

    html = profile_report(read_table(data), target, title=title or f"Data profile: {data.name}")
    _write(output, lambda: output.write_text(html, encoding="utf-8"))


def report(model: str = typer.Argument(..., help=MODEL_HELP),
           data: Optional[Path] = typer.Option(
               None, "--data", "-d", help="Rows with the target to score the model on (best: rows it never saw)."),
           output: Path = typer.Option(Path("report.html"), "-o", "--output", help="HTML file to write."),
           tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Report on MODEL as one HTML page that opens offline.

    Performance with intervals, diagnostics, what drives predictions, leaderboard, search
    history, findings, data and a model card; with --data, also scored on those rows (and
    explained on them when fit left the explanations out to keep its budget).
    """
    from labcoat.api import load, row_model
    from labcoat.data.io import read_table
    from labcoat.model import Model
    from labcoat.tasks import pipeline_task

    loaded = load(model, tracking_uri=tracking_uri)
    own = None if isinstance(loaded, Model) else pipeline_task(getattr(loaded, "task", None))
    if own is not None:  # a task with a pipeline of its own writes its own report
        if data is not None:
            from labcoat.errors import ConfigError

            raise ConfigError(f"--data is for row models; check a {own.name} model on new data with `labcoat "
                              f"monitor {model}` or `labcoat retrain`.")
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory(prefix="labcoat-report-") as scratch:
            written = own.write_report(loaded, scratch)
            _write(output, lambda: shutil.copyfile(written, output))
        return
    m = row_model(loaded, model)
    rows = read_table(data) if data is not None else None
    _write(output, lambda: m.report(output, data=rows))


def _write(output: Path, write: Callable[[], object]) -> None:
    from labcoat.errors import ConfigError

    try:
        write()
    except OSError as error:
        raise ConfigError(f"Cannot write the report to '{output}': {error.strerror or error}. "
                          "Give a writable file path with -o.") from None
    print(f"Wrote {output} ({output.stat().st_size / 1e6:.1f} MB, opens offline in any browser)")
