"""The current window: the rows to compare with the training reference, chunk by chunk.

Two sources:

- data given as a frame or a file (``--current``): CSV, Parquet and JSON-lines files are
  streamed through DuckDB in chunks (as ``labcoat predict -o`` does), so a file larger than
  memory can be monitored; other formats are read whole;
- the prediction log of ``labcoat serve`` (``--from-log``): the requests of the window
  (``--since 24h``) answered by the model monitored (its served name and version), their
  inputs reassembled into rows, the outputs the service logged, and the labels sent to
  ``/feedback``.

Examples
--------
>>> import pandas as pd
>>> window = from_data(pd.DataFrame({"x": range(5)}), chunk_rows=2)
>>> [len(c.rows) for c in window.chunks], window.source
([2, 2, 1], 'in-memory DataFrame')
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, DataError

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.model import Model

#: Rows read at a time from a file.
CHUNK_ROWS = 100_000


@dataclass
class Chunk:
    """Some rows of the window; ``labels`` (aligned, missing where unknown) and the logged
    ``outputs`` (probabilities per class, or values) when the source has them."""

    rows: pd.DataFrame
    labels: pd.Series | None = None
    outputs: np.ndarray | None = None


@dataclass
class Window:
    """Where the rows come from (in words), the chunks (read once) and facts for the report."""

    source: str
    chunks: Iterable[Chunk]
    facts: dict[str, Any] = field(default_factory=dict)


def from_data(data: DataSource, *, chunk_rows: int = CHUNK_ROWS) -> Window:
    """The rows of a frame or a file (streamed when its format allows)."""
    from labcoat.batch import STREAMED
    from labcoat.data.io import read_table

    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.is_file() and path.suffix.lower() in STREAMED and path.stat().st_size > 0:
            return Window(str(path), _streamed(path, chunk_rows), {"file": str(path.resolve())})
        frame = read_table(path)  # its errors name the problem (missing file, unknown format...)
        return Window(str(path), _slices(frame, chunk_rows), {"file": str(path.resolve())})
    frame = read_table(data)
    return Window(f"in-memory {type(data).__name__}", _slices(frame, chunk_rows))


def from_log(path: str | Path, model: Model, *, since: str | None = None, name: str | None = None,
             version: str | None = None, chunk_rows: int = CHUNK_ROWS) -> Window:
    """The logged requests since ``since`` (``24h``, ``30m``, ``7d`` or a date) answered by
    model ``name`` version ``version`` (as ``labcoat serve`` names it; None: any, as long as the
    log holds a single model)."""
    from labcoat.serve.export import parse_since
    from labcoat.serve.predlog import read_log

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"No prediction log at '{path}'; pass the --log of `labcoat serve` as --from-log PATH.")
    start = parse_since(since, now=time.time())
    rows: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    labels: list[Any] = []
    served: dict[tuple[str, str], int] = {}
    times: list[float] = []
    for entry in read_log(path, since=start):
        key = (str(entry["model"]), str(entry["version"]))
        served[key] = served.get(key, 0) + 1
        if (name is not None and key[0] != name) or (version is not None and key[1] != str(version)):
            continue
        times.append(entry["time"])
        rows.extend(entry["inputs"])
        outputs.extend(entry["outputs"])
        labels.extend(entry["labels"].get(i) for i in range(len(entry["inputs"])))
    window = f" since {since}" if since else ""
    if not rows:
        seen = "; ".join(f"'{n}' version {v}: {c:,} request(s)" for (n, v), c in served.items()) or "nothing"
        wanted = f"model '{name}'" + (f" version {version}" if version else "") if name else "any model"
        raise DataError(f"The log '{path}' has no request{window} for {wanted}. It has: {seen}.")
    if name is None and len(served) > 1:
        raise ConfigError(f"The log '{path}' holds several models ({', '.join(f'{n} v{v}' for n, v in served)}); "
                          "monitor the model as it was served (its folder or models:/ URI) to pick one.")
    frame = pd.DataFrame.from_records(rows)
    facts = {"log": str(path.resolve()), "since": since, "requests": len(times),
             "first": _iso(min(times)), "last": _iso(max(times)),
             "labelled": int(sum(v is not None for v in labels)),
             "model": name, "version": version}
    matrix = _outputs(pd.DataFrame.from_records(outputs), model)
    chunks = [Chunk(frame.iloc[i:i + chunk_rows], pd.Series(labels[i:i + chunk_rows], dtype=object,
                                                             index=frame.index[i:i + chunk_rows]),
                    matrix[i:i + chunk_rows]) for i in range(0, len(frame), chunk_rows)]
    return Window(f"prediction log {path}{window}", chunks, facts)


def served_identity(reference: str | Path | Model, tracking_uri: str | None = None) -> tuple[str | None, str | None]:
    """The name and version ``labcoat serve`` logs for a model reference (see
    :func:`labcoat.serve.service.load_served`); ``(None, None)`` for a model object."""
    if not isinstance(reference, (str, Path)):
        return None, None
    from labcoat.api import STORE_SCHEMES

    if isinstance(reference, str) and reference.startswith(STORE_SCHEMES):
        from labcoat.tracking.registry import describe_reference

        described = describe_reference(reference, tracking_uri)
        return str(described["name"]), str(described["version"])
    return Path(reference).resolve().name, "local"


def _outputs(table: pd.DataFrame, model: Model) -> np.ndarray:
    """The logged outputs as the metrics take them (``Task.output_blend``)."""
    try:
        return model.task.output_blend(table, model.schema.target, model.schema.classes)
    except KeyError as missing:
        raise DataError(f"The logged outputs have no {missing.args[0]}: the log was written by another "
                        "model than the one monitored.") from None


def _slices(frame: pd.DataFrame, rows: int) -> list[Chunk]:
    return [Chunk(frame.iloc[i:i + rows]) for i in range(0, len(frame), rows)]


def _streamed(path: Path, rows: int) -> Iterator[Chunk]:
    from labcoat.batch import _chunks

    offset = 0
    try:
        for frame in _chunks(path, rows):
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            yield Chunk(frame)
    except Exception as error:
        if type(error).__module__.startswith("duckdb"):
            raise DataError(f"Cannot read '{path}': {error}") from None
        raise


def _iso(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC")
