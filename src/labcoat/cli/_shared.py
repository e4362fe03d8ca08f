"""What every ``labcoat`` command shares: help texts, notices and errors on stderr, and the
exit codes of the console entry point (``run``).

The command modules of this package import this one (and the library), never each other nor
the package, so that the import graph inside ``labcoat.cli`` has no cycle.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

MODEL_HELP = "Model folder, runs:/RUN_ID/model, models:/NAME/VERSION or models:/NAME@ALIAS."
#: Written out rather than read from the registries, which load scikit-learn (a second per
#: command); tests/test_io_cli.py checks that they name every registered metric and task.
METRIC_HELP = ("What to optimise. Classification: roc_auc (binary default; pr_auc when the positive class "
               "is rare), log_loss (multiclass default), pr_auc, brier, accuracy, balanced_accuracy, f1, "
               "f1_macro, f1_weighted. Regression: rmse (default), mae, r2, mape. Forecast: mase.")
TASK_HELP = ("binary, multiclass or regression (default: inferred from the target); forecast: the next "
             "--horizon steps of the series in --series, ordered by --time-column; recommend: items for each "
             "user (--user, --item); match: the records that are the same entity (see labcoat match); anomaly: "
             "unusual rows, with --labels-column, --contamination or --alerts-per-day if known; segment: groups of "
             "similar rows, no target (--k); extract: entities in labelled text (CoNLL or JSON lines), no target.")
TRACKING_HELP = "MLflow store or server (default: $MLFLOW_TRACKING_URI, else .labcoat/ here)."


def err(text: str) -> None:
    """Print rich markup ``text`` on stderr."""
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(text, highlight=False)


def show_notices(caught: list[warnings.WarningMessage]) -> None:
    """labcoat's own notices among ``caught`` warnings, one line each on stderr."""
    from rich.markup import escape

    from labcoat.errors import LabcoatNotice

    for w in caught:
        if issubclass(w.category, LabcoatNotice):
            err(f"[yellow]notice:[/] {escape(str(w.message))}")


def unique(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    """Each notice once (a streamed file repeats them chunk after chunk)."""
    seen, out = set(), []
    for w in caught:
        if str(w.message) not in seen:
            seen.add(str(w.message))
            out.append(w)
    return out


def click_exceptions() -> tuple[type[Exception], ...]:
    """The ``ClickException`` classes a Typer app may raise on a usage error.

    Typer up to 0.2x raises Click's own; newer Typer vendors Click as ``typer._click`` and raises
    that copy's, which ``click.ClickException`` does not catch. The class Typer uses is found
    from ``typer.BadParameter`` (exported by every Typer version), and Click's is added when
    Click is installed.
    """
    import typer

    found = [c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"]
    try:
        from click.exceptions import ClickException
    except ImportError:  # Typer without Click installed beside it
        pass
    else:
        found.append(ClickException)
    return tuple(dict.fromkeys(found))


def run(app: Any) -> None:
    """Run the Typer ``app`` as the console entry point: labcoat's errors print one line and
    exit with their code (2 for bad input), usage errors print Click's usage message and exit
    2, Ctrl-C exits 130; none shows a traceback."""
    import typer

    from labcoat.errors import LabcoatError

    usage_errors = click_exceptions()
    try:
        code = app(standalone_mode=False)
        if code == 130:  # Typer turns Ctrl-C into this return value outside standalone mode
            err("[red]interrupted[/]")
        if isinstance(code, int) and code:
            sys.exit(code)
    except LabcoatError as error:
        from rich.markup import escape

        err(f"[red]error:[/] {escape(str(error))}")  # unescaped, rich drops "[spark]" from "labcoat[spark]"
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err("[red]interrupted[/]")
        sys.exit(130)
    except (typer.Exit, SystemExit) as done:
        sys.exit(getattr(done, "exit_code", getattr(done, "code", 0)))
    except usage_errors as error:
        # A group called without a command (no_args_is_help) raises NoArgsIsHelpError after Typer
        # printed the help itself, leaving no message: nothing more to show then.
        click_error: Any = error  # a ClickException of whichever Click Typer raises
        if click_error.format_message():
            click_error.show()
        sys.exit(2)


def print_saved(info: dict[str, Any], path: Path) -> None:
    """Where a task's fitted model went: its folder, reports, tracked run and registered version."""
    print(f"Saved to {path}")
    for written in info.get("reports", []):
        print(f"Report: {written}")
    if info.get("run_id"):
        print(f"Recorded as run {info['run_id']} (labcoat runs show {info['run_id']})")
    if info.get("registered"):
        print(f"Registered as {info['registered']}")


def write_table(table: Any, output: Path | None) -> None:
    """``table`` as CSV on stdout, or to ``output`` (Parquet by its suffix, else CSV)."""
    if output is None:
        print(table.to_csv(index=False), end="")
    elif output.suffix.lower() in (".parquet", ".pq"):
        table.to_parquet(output, index=False)
    else:
        table.to_csv(output, index=False)
