"""``labcoat explain``: why a model predicts what it does (see ``labcoat.evaluate.explain``)."""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from labcoat.cli._shared import MODEL_HELP, TRACKING_HELP, show_notices

if TYPE_CHECKING:
    import pandas as pd


def explain(model: str = typer.Argument(..., help=MODEL_HELP),
            data: Path = typer.Argument(..., help="Rows to explain (any file labcoat reads)."),
            row: Optional[list[int]] = typer.Option(
                None, "--row", "-r", help="Row to explain: its position in DATA, from 0. Repeatable."),
            top: int = typer.Option(5, "--top", "-k", min=1,
                                    help="Columns shown per row (or in the ranking)."),
            importance: bool = typer.Option(
                False, "--importance", help="Rank columns by permutation importance (needs the target in DATA)."),
            seed: int = typer.Option(0, help="Seed of the row samples."),
            as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
            tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Explain MODEL's predictions on DATA: per row with --row, else which columns matter
    (permutation importance when DATA has the target column, else mean |SHAP| value)."""
    import labcoat
    from labcoat.api import load_tabular
    from labcoat.data.io import read_table
    from labcoat.evaluate import explain as ex

    m = load_tabular(model, tracking_uri=tracking_uri)
    frame = read_table(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result: ex.Explanation | ex.ShapValues | pd.DataFrame
        if row:
            result = ex.explain_row(m, frame, list(row), top=top, seed=seed)
        elif importance or m.schema.target in frame.columns:
            result = ex.permutation_importance(m, frame, seed=seed)
        else:
            result = ex.shap_values(m, frame, seed=seed)
    if not as_json:
        show_notices(caught)
    if isinstance(result, ex.Explanation):
        print(json.dumps(result.to_dict(), default=str) if as_json else str(result))
    elif isinstance(result, ex.ShapValues):
        _print_ranking(_mean_abs(result), top, as_json,
                       f"Mean |contribution| to {_explained(result)} over {len(result.values)} rows "
                       f"(against {result.background} background rows; {result.method})")
    else:
        _print_ranking(result, top, as_json,
                       f"Permutation importance: drop of {result.attrs['metric']} when a column is shuffled "
                       f"({result.attrs['rows']} rows, {result.attrs['repeats']} shuffles, 95% interval)")


def _mean_abs(sv: Any) -> Any:
    import pandas as pd

    mean_abs = sv.values.abs().mean().sort_values(ascending=False, kind="stable")
    return pd.DataFrame({"feature": mean_abs.index, "mean_abs": mean_abs.to_numpy()})


def _explained(sv: Any) -> str:
    labels = sv.explained.unique().tolist()
    return labels[0] if len(labels) == 1 else "the predicted class's probability"


def _print_ranking(table: Any, top: int, as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps({"title": title, "table": table.to_dict("records")}, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    shown = table.head(top)
    print(title)
    out = Table()
    for name in shown.columns:
        out.add_column(name, justify="left" if name == "feature" else "right")
    for r in shown.itertuples(index=False):
        out.add_row(*[v if isinstance(v, str) else f"{v:.4f}" for v in r])
    Console(width=None if sys.stdout.isatty() else 160).print(out)
    if len(table) > top:
        print(f"({len(table) - top} more columns; --top {len(table)} shows them all)")
