"""Batch scoring of files larger than memory: read in chunks through DuckDB, predict each
chunk, append it to a CSV or Parquet file, with a progress bar.

Memory stays bounded by the chunk size: DuckDB streams the input (its type detection samples
the file, so every chunk gets the same column types) and each chunk's predictions are written
before the next is read.

Examples
--------
>>> import labcoat, tempfile, pathlib                                   # doctest: +SKIP
>>> predict_file(model, "big.csv", "scored.parquet")                    # doctest: +SKIP
5000000
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from labcoat.errors import DataSourceError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labcoat.model import Model

#: Rows predicted at a time.
CHUNK_ROWS = 100_000
#: Input files this format can stream; others are read whole.
STREAMED = {".csv": "read_csv", ".tsv": "read_csv", ".gz": "read_csv", ".txt": "read_csv",
            ".parquet": "read_parquet", ".pq": "read_parquet", ".jsonl": "read_json", ".ndjson": "read_json"}


def predict_file(model: Model, source: str | Path, output: str | Path, *, chunk_rows: int = CHUNK_ROWS,
                 progress: bool = True, keep: list[str] | None = None) -> int:
    """Write ``model``'s predictions for every row of ``source`` to ``output`` (``.parquet`` or
    ``.csv``), ``chunk_rows`` at a time; returns the number of rows. ``keep`` names input columns
    (such as an id) to copy next to the predictions."""
    source, output = Path(source), Path(output)
    if source.suffix.lower() not in STREAMED:
        raise DataSourceError(f"Cannot stream '{source}': batch scoring reads {', '.join(sorted(STREAMED))} "
                              "files; convert it, or use `labcoat predict` without -o for small tables.")
    total = _row_count(source)
    written = 0
    with _Writer(output) as writer, _Bar(total, progress) as advance:
        for chunk in _chunks(source, chunk_rows):
            table = model.predict_frame(chunk)
            if keep:
                table = with_columns(chunk, keep, table)
            writer.write(table)
            written += len(table)
            advance(len(table))
    return written


def with_columns(frame: pd.DataFrame, keep: list[str], table: pd.DataFrame) -> pd.DataFrame:
    """``keep``'s columns of the input ``frame`` before the predictions ``table`` (``--keep``)."""
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise DataSourceError(f"--keep: column(s) {', '.join(missing)} are not in the data.")
    return pd.concat([frame[keep].reset_index(drop=True), table.reset_index(drop=True)], axis=1)


def _chunks(source: Path, rows: int) -> Iterator[pd.DataFrame]:
    import duckdb

    reader = STREAMED[source.suffix.lower()]
    connection = duckdb.connect()
    try:
        connection.execute("set preserve_insertion_order = true")
        # A relation streams; a DB-API result (connection.execute) is materialised whole first.
        # Its batches can be smaller than asked (~14,000 rows from CSV): joined up to ``rows``.
        import pyarrow as pa

        batches = connection.sql(f"select * from {reader}(?)", params=[str(source)]).to_arrow_reader(rows)
        pending: list[pa.RecordBatch] = []
        for batch in batches:
            pending.append(batch)
            if sum(b.num_rows for b in pending) >= rows:
                yield pa.Table.from_batches(pending).to_pandas()
                pending = []
        if pending:
            yield pa.Table.from_batches(pending).to_pandas()
    finally:
        connection.close()


def _row_count(source: Path) -> int | None:
    """Rows of a Parquet file from its footer (free); None for text files (a full scan)."""
    if source.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(source).metadata.num_rows
    return None


class _Writer:
    """Appends frames to one Parquet or CSV file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        self._writer: pq.ParquetWriter | None = None
        self._first = True

    def __enter__(self) -> "_Writer":
        return self

    def write(self, frame: pd.DataFrame) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.path, table.schema)
            self._writer.write_table(table)
        else:
            frame.to_csv(self.path, mode="w" if self._first else "a", header=self._first, index=False)
        self._first = False

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()


class _Bar:
    """A rich progress bar on stderr (rows, with the total when known); silent when not shown."""

    def __init__(self, total: int | None, show: bool) -> None:
        self.total, self.show = total, show and sys.stderr.isatty()

    def __enter__(self) -> Callable[[int], None]:
        if not self.show:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                                  TimeElapsedColumn(), transient=True, console=Console(stderr=True))
        self._progress.start()
        task = self._progress.add_task("rows", total=self.total)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self._progress.stop()
