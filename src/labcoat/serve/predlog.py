"""The prediction log: every answered request's inputs, outputs, model version, latency and time.

Two stages, so that logging costs the request almost nothing and loses nothing:

1. on the request path, one ``os.write`` of a JSON line to this process's journal file
   (``<log>.journal/<pid>.jsonl``) before the response is sent. Once ``write`` returns the bytes
   are the kernel's: a ``kill -9`` of the server right after the answer does not lose them;
2. off the request path, a thread moves journal lines into the SQLite log (WAL mode) in
   batches and remembers how far it got. Journals of processes that died are ingested by the
   next server or by ``labcoat log export``.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> log = PredictionLog(folder / "predictions.db")
>>> log.record({"request_id": "r1", "endpoint": "/predict", "model": "m", "version": "1",
...             "latency_ms": 1.2, "inputs": [{"x": 1}], "outputs": [0.3]})
>>> log.close()
>>> [r["request_id"] for r in read_log(folder / "predictions.db")]
['r1']
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

#: Seconds between two ingestions of the journal into SQLite.
INGEST_SECONDS = 0.5

_SCHEMA = """
create table if not exists predictions (
    request_id text primary key, time real, endpoint text, model text, version text,
    latency_ms real, rows integer, inputs text, outputs text, warnings text);
create index if not exists predictions_time on predictions(time);
create table if not exists feedback (
    request_id text, row integer, label text, time real, primary key (request_id, row));
create table if not exists journal_offsets (file text primary key, offset integer);
"""


class PredictionLog:
    """Journal writer (per process) and SQLite ingester for one log file."""

    def __init__(self, path: str | Path, *, ingest: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.journals = journal_dir(self.path)
        self.journals.mkdir(exist_ok=True)
        self.journal = self.journals / f"{os.getpid()}.jsonl"
        self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if ingest:
            self._thread = threading.Thread(target=self._ingest_loop, name="labcoat-predlog", daemon=True)
            self._thread.start()

    def record(self, entry: dict[str, Any]) -> None:
        """Append one request's record to the journal (call before answering)."""
        entry.setdefault("time", time.time())
        os.write(self._fd, orjson.dumps(entry, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")

    def feedback(self, request_id: str, labels: list[tuple[int, Any]]) -> None:
        """Journal ground-truth labels for rows of an earlier request."""
        self.record({"feedback": request_id, "labels": [[row, label] for row, label in labels]})

    def close(self) -> None:
        """Stop the ingester after a last pass; the journal stays for anyone to ingest."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        ingest(self.path)
        os.close(self._fd)

    def _ingest_loop(self) -> None:
        while not self._stop.wait(INGEST_SECONDS):
            try:
                ingest(self.path)
            except sqlite3.OperationalError:  # another process holds the write lock: next time
                continue


def journal_dir(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("pragma journal_mode=wal")
    db.execute("pragma synchronous=normal")
    db.executescript(_SCHEMA)
    return db


def ingest(path: str | Path) -> int:
    """Move every journal line not yet in the SQLite log into it; returns the lines moved."""
    path = Path(path)
    folder = journal_dir(path)
    if not folder.is_dir():
        return 0
    moved = 0
    db = connect(path)
    try:
        for journal in sorted(folder.glob("*.jsonl")):
            db.execute("begin immediate")
            row = db.execute("select offset from journal_offsets where file = ?", (journal.name,)).fetchone()
            start = row[0] if row else 0
            with journal.open("rb") as handle:
                handle.seek(start)
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line being written is left for next time
            for line in complete.splitlines():
                _store(db, orjson.loads(line))
                moved += 1
            db.execute("insert or replace into journal_offsets values (?, ?)", (journal.name, start + len(complete)))
            db.execute("commit")
    finally:
        db.close()
    return moved


def _store(db: sqlite3.Connection, entry: dict[str, Any]) -> None:
    if "feedback" in entry:
        db.executemany("insert or replace into feedback values (?, ?, ?, ?)",
                       [(entry["feedback"], int(row), orjson.dumps(label).decode(), entry["time"])
                        for row, label in entry["labels"]])
        return
    db.execute("insert or ignore into predictions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (entry["request_id"], entry["time"], entry.get("endpoint"), entry.get("model"),
                str(entry.get("version")), entry.get("latency_ms"), len(entry.get("inputs") or []),
                orjson.dumps(entry.get("inputs")).decode(), orjson.dumps(entry.get("outputs")).decode(),
                orjson.dumps(entry.get("warnings") or []).decode()))


def read_log(path: str | Path, *, since: float | None = None) -> Iterator[dict[str, Any]]:
    """Every logged request (after ingesting the journals), oldest first, with its labels."""
    path = Path(path)
    ingest(path)
    db = connect(path)
    try:
        labels: dict[str, dict[int, Any]] = {}
        for request_id, row, label in db.execute("select request_id, row, label from feedback"):
            labels.setdefault(request_id, {})[row] = orjson.loads(label)
        query = "select * from predictions" + (" where time >= ?" if since is not None else "") + " order by time"
        cursor = db.execute(query, (since,) if since is not None else ())
        names = [d[0] for d in cursor.description]
        for values in cursor:
            entry = dict(zip(names, values))
            for key in ("inputs", "outputs", "warnings"):
                entry[key] = orjson.loads(entry[key])
            entry["labels"] = labels.get(entry["request_id"], {})
            yield entry
    finally:
        db.close()


def known_request(path: Path, request_id: str) -> int | None:
    """Rows of an earlier request (None if it is not in the log, journals included)."""
    ingest(path)
    db = connect(path)
    try:
        row = db.execute("select rows from predictions where request_id = ?", (request_id,)).fetchone()
        return None if row is None else int(row[0])
    finally:
        db.close()
