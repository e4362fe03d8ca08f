"""Reading tables: files (CSV, TSV, Parquet, JSON lines, Excel), frames, and SQL queries."""

from __future__ import annotations

import codecs
import gzip
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import pandas as pd

from labcoat.errors import DataError, DataSourceError, LabcoatNotice, did_you_mean

if TYPE_CHECKING:
    import polars as pl
    from typing_extensions import TypeIs  # typing's from Python 3.13

#: What :func:`read_table` reads: a file's path, or a pandas or polars frame (lazy ones collected).
DataSource: TypeAlias = "str | Path | pd.DataFrame | pl.DataFrame | pl.LazyFrame"

_READERS = {".csv": "csv", ".gz": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv",
            ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".json": "jsonl", ".xlsx": "excel", ".xls": "excel"}
#: CSV files above this size are read through DuckDB instead of pandas.
LARGE_CSV_BYTES = 50 * 2**20
#: Tried in order when a text file is not UTF-8: Windows-1252 (what Excel writes on Western
#: Windows; Latin-1 with printable characters in 0x80-0x9F), then Latin-1, which decodes any bytes.
FALLBACK_ENCODINGS = ("cp1252", "latin-1")


def _polars(source: object) -> TypeIs[pl.DataFrame | pl.LazyFrame]:
    """A polars frame? (Without importing polars, an optional dependency.)"""
    return type(source).__module__.startswith("polars")


def read_table(source: DataSource | None = None, *, sql: str | None = None, db: str | Path | None = None) -> pd.DataFrame:
    """Read ``source`` (a path, a pandas or polars frame) or run ``sql`` on DuckDB/SQLite file ``db``.

    The input is never modified; a pandas frame is returned as a copy.

    Examples
    --------
    >>> read_table(pd.DataFrame({"a": [1, 2]})).shape
    (2, 1)
    """
    if sql is not None:
        return _query(sql, db)
    if isinstance(source, pd.DataFrame):
        return string_columns(source.copy())
    if _polars(source):
        import polars as pl  # imported already: source is one of its frames

        table = source.collect() if isinstance(source, pl.LazyFrame) else source
        return table.to_pandas()
    if not isinstance(source, (str, Path)):
        raise DataSourceError(f"Cannot read data from a {type(source).__name__}; give a file path or a DataFrame.")
    path = Path(source)
    if not path.exists():
        near = did_you_mean(path.name, [p.name for p in path.parent.glob("*")]) if path.parent.is_dir() else ""
        raise DataSourceError(f"File '{path.resolve()}' does not exist.{near}")
    if path.is_dir():
        raise DataSourceError(f"'{path}' is a directory; give the path of a data file.")
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise DataSourceError(f"Cannot read '{path}': unknown file type '{path.suffix}'. "
                              f"Supported: {', '.join(sorted(_READERS))}.")
    if path.stat().st_size == 0:
        raise DataError(f"File '{path}' is empty (0 bytes).")
    try:
        frame = _read(path, kind)
    except (DataError, DataSourceError):
        raise
    except Exception as error:
        raise DataError(f"Cannot read '{path}' as {kind}: {error}") from error
    if len(frame) == 0:
        raise DataError(f"File '{path}' has no rows.")
    return frame


def as_table(data: object, what: str = "data") -> pd.DataFrame:
    """``data`` as a pandas frame: a frame as it is (not copied: the tasks that take one never
    modify it; only its column names made strings, :func:`string_columns`), a file path or a
    polars frame read by :func:`read_table`; anything else a :class:`DataError` naming ``what``.

    >>> as_table(pd.DataFrame({"a": [1]})).shape
    (1, 1)
    >>> as_table(3, "records")
    Traceback (most recent call last):
    ...
    labcoat.errors.DataError: The records must be a table (a DataFrame or a file path); got int.
    """
    if isinstance(data, pd.DataFrame):
        return string_columns(data)
    if not isinstance(data, (str, Path)) and not _polars(data):
        raise DataError(f"The {what} must be a table (a DataFrame or a file path); got {type(data).__name__}.")
    return read_table(data)


def string_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column names as strings (a numpy array's frame has 0, 1, ...: they
    become '0', '1', ..., as in a CSV file), the data shared; ``frame`` itself if they are.

    >>> string_columns(pd.DataFrame([[1, 2]])).columns.tolist()
    ['0', '1']
    """
    if all(type(name) is str for name in frame.columns):
        return frame
    return frame.rename(columns=str)


def _read(path: Path, kind: str) -> pd.DataFrame:
    if kind in ("csv", "tsv"):
        sep = "\t" if kind == "tsv" else ","
        try:
            return _read_delimited(path, sep, "utf-8")
        except (UnicodeDecodeError, _NotUtf8):  # rare: the file is scanned only then
            return _read_delimited(path, sep, fallback_encoding(path))
    if kind == "parquet":
        return pd.read_parquet(path)
    if kind == "jsonl":
        try:
            return pd.read_json(path, lines=True)
        except ValueError:
            return pd.read_json(path)
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise DataSourceError(f"Reading '{path}' needs openpyxl: pip install 'labcoat[excel]'.") from None
    return pd.read_excel(path)


class _NotUtf8(Exception):
    """DuckDB found bytes that are not UTF-8."""


def _read_delimited(path: Path, sep: str, encoding: str) -> pd.DataFrame:
    header = pd.read_csv(path, sep=sep, nrows=1, header=None, dtype=str, encoding=encoding).iloc[0].tolist()
    dupes = sorted({str(h) for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"File '{path}' has duplicate column names: {', '.join(repr(d) for d in dupes)}. "
                        "Rename them so each column has one name.")
    if path.stat().st_size > LARGE_CSV_BYTES and encoding == "utf-8":
        import duckdb

        try:
            return duckdb.read_csv(str(path), sep=sep, header=True).df()
        except duckdb.InvalidInputException as error:
            if "not utf-8" in str(error):
                raise _NotUtf8(str(error)) from error
            raise
    return pd.read_csv(path, sep=sep, low_memory=False, encoding=encoding)


def fallback_encoding(path: Path) -> str:
    r"""The encoding to read a text file that is not UTF-8 with: the first of
    :data:`FALLBACK_ENCODINGS` that decodes the whole file (gzip files through their
    compression), with a notice naming it.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     latin = Path(folder) / "cities.csv"
    ...     _ = latin.write_bytes("city\nMünchen\n".encode("latin-1"))
    ...     with warnings.catch_warnings(record=True) as seen:
    ...         warnings.simplefilter("always")
    ...         print(fallback_encoding(latin), "|", str(seen[0].message)[:46])
    cp1252 | File 'cities.csv' is not UTF-8: read as cp1252
    """
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    *candidates, last = FALLBACK_ENCODINGS
    chosen = last  # Latin-1 decodes any bytes
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with opener(path, "rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        chosen = encoding
        break
    warnings.warn(f"File '{path.name}' is not UTF-8: read as {chosen}. If some text looks wrong, "
                  "save the file as UTF-8.", LabcoatNotice, stacklevel=5)
    return chosen


def _query(sql: str, db: str | Path | None) -> pd.DataFrame:
    if db is not None and not Path(db).is_file():
        raise DataSourceError(f"Database file '{db}' does not exist.")
    try:
        if db is not None and _is_sqlite(Path(db)):
            import sqlite3
            from contextlib import closing

            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as lite:
                return pd.read_sql_query(sql, lite)
        import duckdb

        connection = duckdb.connect(str(db), read_only=True) if db is not None else duckdb.connect()
        try:
            return connection.execute(sql).df()
        finally:
            connection.close()
    except Exception as error:
        raise DataError(f"The query failed on {db or 'DuckDB'}: {error}") from error


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(16) == b"SQLite format 3\x00"
