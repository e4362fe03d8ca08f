"""``labcoat extract --builtin DATA --column body -o out.csv`` and
``labcoat extract MODEL DATA --column body -o entities.csv``."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

import typer

from labcoat.cli._shared import MODEL_HELP, TRACKING_HELP, err, show_notices, unique, write_table


def extract(args: list[str] = typer.Argument(..., metavar="[MODEL] DATA", help="With --builtin, DATA alone: "
                                             "a table labcoat reads (CSV, Parquet, Excel...) or a .txt file, one "
                                             "document per line. Without it, an extraction MODEL, then DATA. "
                                             + MODEL_HELP),
            builtin: bool = typer.Option(False, "--builtin", help="Use the built-in extractors (no model): add "
                                         "one column per kind found, COLUMN_KIND, several values in a row "
                                         "joined by '; '."),
            column: Optional[str] = typer.Option(None, "--column", help="The column of texts (default: the only "
                                                 "column; 'text' for a .txt file)."),
            kinds: Optional[str] = typer.Option(None, "--kinds", help="With --builtin, only these (a column each, "
                                                "even if empty): iban, card, url, email, phone, date, money, "
                                                "percent, quantity."),
            day_first: Optional[bool] = typer.Option(None, "--day-first/--month-first", help="How to read an "
                                                     "ambiguous date such as 03/04/2024 (default: as the "
                                                     "unambiguous dates of DATA are written, else by --region)."),
            region: str = typer.Option("US", help="Country (ISO code: US, GB, DE...) of phone numbers written "
                                       "without +country code, and whose date order applies when DATA does not "
                                       "show one."),
            output: Optional[Path] = typer.Option(None, "-o", "--output", help="CSV or Parquet file to write "
                                                  "(default: CSV on stdout)."),
            tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Pull values out of a column of texts: dates, amounts, e-mail addresses... with the
    built-in extractors (--builtin: the table with a column per kind added), or the entities of
    an extraction MODEL (one row per entity: document, start, end, label, text, confidence)."""
    from labcoat.tasks.extract.texts import as_texts, read_texts

    if len(args) != (1 if builtin else 2):
        err("Give DATA alone with --builtin (labcoat extract --builtin DATA --column body), or an extraction "
            f"MODEL and DATA without it (labcoat extract MODEL DATA --column body); got {len(args)} argument"
            f"{'s' if len(args) != 1 else ''}.")
        raise typer.Exit(2)
    if not builtin and (kinds is not None or day_first is not None):
        err("--kinds, --day-first and --month-first go with --builtin.")
        raise typer.Exit(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table, name = read_texts(Path(args[-1]), column)
        if builtin:
            from labcoat.tasks.extract.builtin import extract_columns

            result = extract_columns(table, name, kinds, day_first=day_first, region=region)
            added = len(result.columns) - len(table.columns)
        else:
            result = _load_extractor(args[0], tracking_uri).extract(as_texts(table[name]))
    show_notices(unique(caught))
    write_table(result, output)
    if output is not None:
        what = f"{added} column{'s' if added != 1 else ''} added to {len(result):,} rows" if builtin else \
            f"{len(result):,} entities from {len(table):,} texts"
        err(f"{what} written to {output}")


def _load_extractor(reference: str, tracking_uri: Optional[str]) -> Any:
    """The model at ``reference``, if it extracts entities (has ``extract(texts)``)."""
    from labcoat.api import load

    model: Any = load(reference, tracking_uri=tracking_uri)
    if not callable(getattr(model, "extract", None)):
        err(f"'{reference}' does not hold an extraction model (fit one with `labcoat fit DATA --task extract`), "
            "or use the built-in extractors: labcoat extract --builtin DATA --column COLUMN.")
        raise typer.Exit(2)
    return model
