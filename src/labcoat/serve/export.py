"""The prediction log as a table: one row per predicted row, with its request's metadata and
its label when ``/feedback`` gave one.

Examples
--------
>>> parse_since("24h", now=100_000.0)
13600.0
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from labcoat.errors import ConfigError
from labcoat.serve.predlog import read_log

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str | None, *, now: float) -> float | None:
    """``24h``/``30m``/``7d`` before ``now``, or an ISO date, as a Unix time (None: everything)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        return pd.Timestamp(text).timestamp()
    except ValueError:
        raise ConfigError(f"--since {text!r}: give a duration such as 24h, 30m, 7d or a date such as "
                          "2026-11-01.") from None


def log_frame(path: str | Path, *, since: float | None = None) -> pd.DataFrame:
    """Every logged row since ``since``: request id, time, endpoint, model, version, latency,
    the row's inputs (one column each), outputs (a bare one, such as ``/segment``'s segment, in
    a column named after the endpoint), and ``label`` (from ``/feedback``)."""
    rows: list[dict[str, Any]] = []
    for entry in read_log(path, since=since):
        meta = {"request_id": entry["request_id"], "time": pd.Timestamp(entry["time"], unit="s"),
                "endpoint": entry["endpoint"], "model": entry["model"], "version": entry["version"],
                "latency_ms": entry["latency_ms"]}
        labels = entry["labels"]
        bare = str(entry["endpoint"]).strip("/") or "output"  # a bare output (/segment's number) is named so
        for row, (inputs, outputs) in enumerate(zip(entry["inputs"], entry["outputs"])):
            outputs = outputs if isinstance(outputs, dict) else {bare: outputs}
            rows.append({**meta, "row": row, **inputs, **outputs, "label": labels.get(row)})
    return pd.DataFrame(rows)
