"""Reading documents to extract from: any table labcoat reads (one document per row, in a
column), or a plain text file with one document per line.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     notes = Path(folder) / "notes.txt"
...     _ = notes.write_text("Paid $5 on 2024-03-14\\nNothing here\\n")
...     table, column = read_texts(notes)
>>> column, table[column].tolist()
('text', ['Paid $5 on 2024-03-14', 'Nothing here'])
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from labcoat.data.io import DataSource, fallback_encoding, read_table
from labcoat.errors import DataError, DataSourceError, did_you_mean

#: The column of a text file's lines when none is named.
TEXT_COLUMN = "text"


def read_texts(source: DataSource, column: str | None = None) -> tuple[pd.DataFrame, str]:
    """The table of ``source`` and the name of its column of documents.

    A ``.txt`` file is read as one document per line (UTF-8, else its encoding with a notice),
    in a column named ``column`` (default ``"text"``); anything else by
    :func:`~labcoat.data.io.read_table`, where ``column`` must be one of its columns (it may be
    left out when the table has only one). A :class:`~labcoat.errors.DataError` names a missing
    column and the columns there are.
    """
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() == ".txt":
        return _lines(Path(source), column or TEXT_COLUMN), column or TEXT_COLUMN
    table = read_table(source)
    names = [str(c) for c in table.columns]
    if column is None:
        if len(names) == 1:
            return table, names[0]
        raise DataError(f"Name the column of texts to extract from (column=..., --column): the data has "
                        f"{len(names)} columns: {', '.join(names)}.")
    if column not in table.columns:
        raise DataError(f"Column '{column}' is not in the data.{did_you_mean(column, names)} "
                        f"Its columns: {', '.join(names)}.")
    return table, column


def _lines(path: Path, column: str) -> pd.DataFrame:
    if not path.is_file():
        near = did_you_mean(path.name, [p.name for p in path.parent.glob("*")]) if path.parent.is_dir() else ""
        raise DataSourceError(f"File '{path.resolve()}' does not exist.{near}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding=fallback_encoding(path))
    lines = text.splitlines()
    if not lines:
        raise DataError(f"File '{path}' is empty: a text file holds one document per line.")
    return pd.DataFrame({column: lines})


def as_texts(texts: Iterable[object]) -> list[str]:
    """``texts`` as strings: a missing one (None, NaN, pandas' NA) empty, anything else its
    ``str``; one string alone is refused (it would be read as a list of characters).

    >>> as_texts(["a", None, float("nan"), 5])
    ['a', '', '', '5']
    """
    if isinstance(texts, str):
        raise DataError("Give a list of texts, not one string: write [text].")
    return ["" if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)
            else str(value) for value in texts]
