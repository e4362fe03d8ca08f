"""Trials in parallel on this machine: :class:`ProcessExecutor`, one worker process per slot.

Each worker (``labcoat._trial_worker``) loads the study's data once from a temporary file, keeps
its own preprocessing cache, and runs one trial at a time. A worker that dies mid-trial (a
crash in native code, ``os._exit``, the kernel's OOM killer) costs only that trial: the worker
is replaced and the trial retried once, then recorded as failed with the reason; the other
workers go on. A ``memory_limit`` turns a memory blow-up into a ``MemoryError`` in that trial
(a failed trial) instead of letting the machine's OOM killer pick a process.

Its own small pool rather than ``concurrent.futures``: a dead worker breaks a whole
``ProcessPoolExecutor`` and fails every running trial, without saying which one crashed.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from pathlib import Path
from typing import Any

from labcoat._trial_worker import STOP
from labcoat.search.executor import Executor, TrialRequest
from labcoat.search.trial import PreprocessCache, Trial, TrialData

#: Attempts of a trial whose worker died: the first run and one retry.
ATTEMPTS = 2


@dataclass
class _Worker:
    process: subprocess.Popen
    conn: Connection
    request: TrialRequest | None = None
    attempts: int = 0
    started: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        self.conn.close()


class ProcessExecutor(Executor):
    """Runs up to ``n_jobs`` trials at once, each in a worker process of its own.

    Models use ``max(1, idle cores // n_jobs)`` threads each.

    Examples
    --------
    >>> executor = ProcessExecutor(2)
    >>> executor.capacity, executor.threads(lambda: 2), executor.threads(lambda: 8)
    (2, 1, 4)
    """

    def __init__(self, n_jobs: int, *, memory_limit: int | None = None) -> None:
        if n_jobs < 1:
            raise ValueError(f"n_jobs must be >= 1; got {n_jobs}")
        self.n_jobs = int(n_jobs)
        self.memory_limit = memory_limit
        self._workers: list[_Worker] = []
        self._folder: Path | None = None
        self._threads = 1

    @property
    def capacity(self) -> int:
        return self.n_jobs

    def threads(self, idle: Callable[[], int]) -> int:
        return max(1, idle() // self.n_jobs)

    def describe(self) -> str:
        return f"local ({self.n_jobs} processes)"

    def start(self, data: TrialData) -> None:
        self.stop()
        self._folder = Path(tempfile.mkdtemp(prefix="labcoat-trials-"))
        with open(self._folder / "data.pkl", "wb") as file:
            pickle.dump(replace(data, cache=PreprocessCache()), file, protocol=pickle.HIGHEST_PROTOCOL)
        self._threads = data.n_jobs
        self._workers = [self._spawn() for _ in range(self.n_jobs)]

    def submit(self, request: TrialRequest) -> int:
        worker = next((w for w in self._workers if w.request is None), None)
        if worker is None:
            raise RuntimeError(f"All {self.n_jobs} workers are busy: wait before submitting more.")
        if not worker.alive():
            worker = self._replace(worker)
        self._send(worker, request, attempts=1)
        return request.number

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[Trial]:
        end = None if timeout is None else time.monotonic() + timeout
        wanted = set(handles)
        finished: list[Trial] = []
        while not finished:
            busy = {w.conn: w for w in self._workers if w.request is not None and w.request.number in wanted}
            if not busy:
                break
            left = None if end is None else max(0.0, end - time.monotonic())
            for conn in wait_for(list(busy), timeout=left):
                trial = self._collect(busy[conn])  # type: ignore[index]
                if trial is not None:
                    finished.append(trial)
            if end is not None and time.monotonic() >= end:
                break
        return finished

    def cancel(self, handles: Sequence[Any]) -> None:
        doomed = set(handles)
        for worker in list(self._workers):
            if worker.request is not None and worker.request.number in doomed:
                worker.request = None
                self._replace(worker)

    def stop(self) -> None:
        for worker in self._workers:
            if worker.request is None and worker.alive():
                try:
                    worker.conn.send_bytes(STOP)
                except OSError:
                    pass
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            if worker.request is None:
                try:
                    worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            worker.kill()
        self._workers = []
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # ------------------------------------------------------------------ workers
    def _spawn(self) -> _Worker:
        assert self._folder is not None
        parent, child = socket.socketpair()
        command = [sys.executable, "-m", "labcoat._trial_worker", str(child.fileno()),
                   str(self._folder / "data.pkl"), str(self._threads), str(self.memory_limit or 0),
                   str(os.getpid())]
        # The parent's import path, so that families defined outside labcoat (tests, user
        # modules) unpickle in the worker.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        process = subprocess.Popen(command, pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL)
        child.close()
        return _Worker(process=process, conn=Connection(parent.detach()))

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = self._spawn()
        self._workers = [fresh if w is worker else w for w in self._workers]
        return fresh

    def _send(self, worker: _Worker, request: TrialRequest, *, attempts: int) -> None:
        import cloudpickle  # families defined in a script's __main__ travel too

        worker.request, worker.attempts, worker.started = request, attempts, time.monotonic()
        worker.conn.send_bytes(cloudpickle.dumps((request, request.wall_deadline())))

    def _collect(self, worker: _Worker) -> Trial | None:
        """The trial ``worker`` finished, or after its death: ``None`` while it is retried."""
        request = worker.request
        assert request is not None
        try:
            answer: Trial | str = worker.conn.recv()
            worker.request = None
            seconds = time.monotonic() - worker.started
            return request.unfinished("failed", answer, seconds) if isinstance(answer, str) else answer
        except (EOFError, OSError):
            pass
        worker.process.wait()
        reason = _death(worker.process.returncode)
        seconds = time.monotonic() - worker.started
        fresh = self._replace(worker)
        if worker.attempts < ATTEMPTS:
            self._send(fresh, request, attempts=worker.attempts + 1)
            return None
        return request.unfinished("failed", f"the worker process {reason} while running it, "
                                  "twice (retried once)", seconds)


def _death(code: int | None) -> str:
    """How a process ended, in words: 'was killed by SIGKILL', 'exited with code 3'."""
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


__all__ = ["ProcessExecutor"]
