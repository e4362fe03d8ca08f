"""What ``labcoat watch`` keeps between runs: the state file, the action log and the lock.

- The state (``state.json``): the last check (when it started, its verdict) and the last
  retrain (the fingerprint of the data it used, its decision). Written to a temporary file in
  the same folder, flushed to disk, then renamed over the old one (``os.replace``), so a stop at
  any moment leaves the previous state or the new one, never half of one.
- The action log (``actions.jsonl`` next to it): one JSON object per line, appended with a
  single ``write`` and flushed to disk, never rewritten.
- The lock (``lock`` next to it): one watcher per state folder (``flock``, released by the
  system when the process ends, however it ends).

Examples
--------
>>> iso(0.0)
'1970-01-01T00:00:00.000Z'
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> state = State.load(folder / "state.json")
>>> state.last_check is None
True
>>> state.data["last_check"] = {"started_epoch": 60.0}
>>> state.save()
>>> State.load(folder / "state.json").last_check
{'started_epoch': 60.0}
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from labcoat.errors import ConfigError

#: Version of the state file's layout.
FORMAT = 1


def iso(epoch: float) -> str:
    """A Unix time as ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class State:
    """The watcher's memory (see the module docstring); ``data`` is the JSON document."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        """The state at ``path``, or an empty one when there is none yet."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path, {"format": FORMAT})
        except (OSError, ValueError) as error:
            raise ConfigError(f"The watch state '{path}' cannot be read ({error}); move it away to start "
                              "afresh (the next check then runs at once).") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"The watch state '{path}' is not a labcoat watch state of format {FORMAT}; move "
                              "it away to start afresh.")
        return cls(path, data)

    @property
    def last_check(self) -> dict[str, Any] | None:
        return self.data.get("last_check")

    @property
    def last_retrain(self) -> dict[str, Any] | None:
        return self.data.get("last_retrain")

    def save(self) -> None:
        """Write the state atomically (temporary file, fsync, ``os.replace``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(self.data, out, indent=2, default=str)
                out.flush()
                os.fsync(out.fileno())
            os.replace(scratch, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(scratch)
            raise


class ActionLog:
    """Appends one JSON line per action to ``path`` and prints it as one line of words."""

    def __init__(self, path: Path, out: TextIO | None = None) -> None:
        self.path = path
        self.out = out

    def write(self, action: str, message: str, *, now: float, **fields: Any) -> dict[str, Any]:
        """Record ``action`` at Unix time ``now``; returns the record."""
        record = {"time": iso(now), "action": action, "message": message, **fields}
        line = (json.dumps(record, default=str, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        out = self.out or sys.stdout
        print(f"{record['time']} {action}: {message}", file=out, flush=True)
        return record


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the lock of a state folder, or raise :class:`ConfigError` when another watcher does."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock
        yield
        return
    path = folder / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = path.read_text().strip() or "unknown"
            raise ConfigError(f"Another `labcoat watch` (pid {holder}) uses the state in '{folder}'; stop it "
                              "first, or give this config a state: of its own.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def fingerprint(paths: Sequence[Path]) -> dict[str, Any]:
    """What identifies a set of files without reading them: each path, size and modification
    time, and a digest of all three.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = path.write_text("x\\n1\\n")
    >>> first = fingerprint([path])
    >>> first == fingerprint([path]), first["files"][0]["size"]
    (True, 4)
    >>> os.utime(path, ns=(0, 10**9))
    >>> fingerprint([path])["digest"] == first["digest"]
    False
    """
    files = []
    for path in sorted(Path(p).resolve() for p in paths):
        stat = path.stat()
        files.append({"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {"digest": digest, "files": files}
