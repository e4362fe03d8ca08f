"""Where trials run: the :class:`Executor` contract and the default, in-process executor.

A study hands an executor :class:`TrialRequest` s and collects finished :class:`Trial` s::

    executor.check()                  # fail early (missing package, unreachable cluster)
    executor.start(data)              # once per study: ship the data to the workers
    handle = executor.submit(request) # at most ``executor.capacity`` trials at once
    done = executor.wait([handle, ...], timeout)  # the finished trials, [] on timeout
    executor.cancel([handle])         # stop a trial still running (past its deadline)
    executor.stop()                   # always: cancel what still runs, release workers

A trial never raises: a failing configuration, a crashed worker or a cancelled task is a
``Trial`` with ``status`` "failed" or "stopped" and the reason in ``error``. Implementations:
:class:`LocalExecutor` (default; one trial at a time in this process),
:class:`~labcoat.search.processes.ProcessExecutor` (``n_jobs`` worker processes) and
:class:`~labcoat.search.ray_executor.RayExecutor` (Ray tasks on a cluster); this module imports
none of them: :func:`labcoat.search.executors.get_executor` picks one by name.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from labcoat.models import Family, Params
from labcoat.search.trial import Trial, TrialData, evaluate_trial


@dataclass(frozen=True)
class TrialRequest:
    """One configuration to score: what :meth:`Executor.submit` receives.

    ``deadline`` is a ``time.monotonic()`` value of the driver's clock; executors running
    trials elsewhere pass :meth:`wall_deadline` instead (monotonic clocks differ by machine).

    Examples
    --------
    >>> from labcoat.models import FAMILIES
    >>> request = TrialRequest(FAMILIES["linear"], {"C": 1.0}, number=0, origin="portfolio")
    >>> request.wall_deadline() is None, request.unfinished("stopped", "cancelled").status
    (True, 'stopped')
    """

    family: Family
    params: Params
    number: int
    origin: Literal["portfolio", "optuna"]
    deadline: float | None = None
    #: Score on the plan's first ``folds`` folds only (None: all of them).
    folds: int | None = None

    def wall_deadline(self) -> float | None:
        """The deadline as a ``time.time()`` value, for another process or machine."""
        return None if self.deadline is None else time.time() + (self.deadline - time.monotonic())

    def run(self, data: TrialData, wall_deadline: float | None = None) -> Trial:
        """Score the configuration here (on a worker: with the wall-clock deadline it was sent)."""
        deadline = self.deadline if wall_deadline is None else time.monotonic() + (wall_deadline - time.time())
        return evaluate_trial(self.family, self.params, data, number=self.number, origin=self.origin,
                              deadline=deadline, folds=self.folds)

    def unfinished(self, status: Literal["failed", "stopped"], reason: str, seconds: float = 0.0) -> Trial:
        """The record of this trial when it produced no result (worker died, cancelled)."""
        return Trial(number=self.number, family=self.family.name, params=dict(self.params),
                     origin=self.origin, status=status, error=reason, duration=seconds)


class Executor(ABC):
    """Runs trials, up to :attr:`capacity` at once; see the module docstring for the call order."""

    @property
    def capacity(self) -> int:
        """How many trials may run at once (fixed between :meth:`start` and :meth:`stop`)."""
        return 1

    def check(self) -> None:
        """Raise a :class:`~labcoat.errors.LabcoatError` now if trials cannot run (before any work)."""

    def threads(self, idle: Callable[[], int]) -> int:
        """Threads each model may use, given a function measuring the idle cores."""
        return idle()

    def describe(self) -> str:
        """A short description for ``Model.info.executor``."""
        return type(self).__name__

    def start(self, data: TrialData) -> None:
        """Make ``data`` available to the workers; called once per study before any submit."""

    @abstractmethod
    def submit(self, request: TrialRequest) -> Any:
        """Start scoring ``request``; return a handle for :meth:`wait` and :meth:`cancel`."""

    @abstractmethod
    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[Trial]:
        """Block until at least one of ``handles`` finished (or ``timeout`` seconds passed);
        return the trials of all that have finished, each once."""

    def cancel(self, handles: Sequence[Any]) -> None:
        """Stop these trials if still running (their results are dropped)."""

    def stop(self) -> None:
        """Cancel whatever still runs and release workers; called once per study, even on error."""


class LocalExecutor(Executor):
    """Runs each trial in this process when waited for, one at a time, with ``n_jobs`` threads
    per model (default: the cores idle when the study starts).

    Examples
    --------
    >>> LocalExecutor().capacity, LocalExecutor(n_jobs=1).threads(lambda: 8)
    (1, 1)
    """

    def __init__(self, n_jobs: int | None = None) -> None:
        self.n_jobs = n_jobs
        self._data: TrialData | None = None
        self._queue: dict[int, TrialRequest] = {}

    def threads(self, idle: Callable[[], int]) -> int:
        return self.n_jobs or idle()

    def describe(self) -> str:
        return "local (in process)"

    def start(self, data: TrialData) -> None:
        self._data = data

    def submit(self, request: TrialRequest) -> int:
        self._queue[request.number] = request
        return request.number

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[Trial]:
        if self._data is None:
            raise RuntimeError("LocalExecutor.start(data) must be called before wait().")
        for handle in handles:
            request = self._queue.pop(handle, None)
            if request is not None:
                return [request.run(self._data)]
        return []

    def cancel(self, handles: Sequence[Any]) -> None:
        for handle in handles:
            self._queue.pop(handle, None)

    def stop(self) -> None:
        self._queue.clear()
        self._data = None


__all__ = ["Executor", "LocalExecutor", "TrialRequest"]
