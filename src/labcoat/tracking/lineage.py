"""What produced a model: a fingerprint of the data, the code, the settings and the machine.

Examples
--------
>>> import pandas as pd
>>> a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
>>> fingerprint(a) == fingerprint(a.copy()), fingerprint(a) == fingerprint(a.iloc[::-1])
(True, False)
"""
from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.data.schema import Schema


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the frame's content, column names and dtypes (row order matters)."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def git_state(directory: Path | None = None) -> dict[str, str]:
    """Commit and dirty flag of the git work tree around ``directory`` (the working directory),
    or nothing when it is not in one or git is absent."""
    cwd = directory or Path.cwd()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                timeout=5)
        if commit.returncode != 0:
            return {}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit.stdout.strip(), "git_dirty": str(bool(status.stdout.strip())).lower()}


def machine() -> dict[str, Any]:
    return {"host": socket.gethostname(), "cores": os.cpu_count() or 1,
            "platform": platform.platform(terse=True)}


def describe_source(data: DataSource | None, sql: str | None = None, db: str | Path | None = None) -> str:
    """How the data was given: a path, a query on a database, or an in-memory frame."""
    if sql:
        return f"sql: {sql} (db: {db})" if db else f"sql: {sql}"
    if isinstance(data, (str, Path)):
        return str(Path(data).resolve())
    return f"in-memory {type(data).__module__.split('.')[0]} {type(data).__name__}"


def lineage_tags(frame: pd.DataFrame, schema: Schema, source: str) -> dict[str, str]:
    """The ``lineage.*`` tags of a study's run: data fingerprint and schema hash, size, source,
    library versions, git state and machine."""
    from labcoat import __version__
    from labcoat.artifact import library_versions

    facts = {"data_fingerprint": fingerprint(frame),
             "schema_hash": hashlib.sha256(schema.to_json().encode()).hexdigest(),
             "rows": len(frame), "columns": frame.shape[1], "source": source,
             "labcoat_version": __version__, **library_versions(), **git_state(), **machine()}
    return {f"lineage.{k}": str(v)[:5000] for k, v in facts.items()}
