"""Trials as Ray tasks on a cluster: :class:`RayExecutor` (``labcoat[ray]``).

The study's data is put in the object store once (``ray.put``); each task receives the
reference, and a worker process keeps the data and its preprocessing cache for the next trial
it runs. Every task declares ``cpus_per_trial`` CPUs, so the cluster's CPUs set how many
trials run at once. A task whose worker dies is retried once by Ray (``max_retries=1``), then
recorded as a failed trial with the reason; trials past their deadline and whatever still
runs when the study stops are cancelled (``ray.cancel(force=True)``). Without an address a
local Ray instance is started for the study and shut down after it; the driver's connection
to a given cluster is closed the same way (the cluster keeps running).

Deadlines travel as wall-clock times: the cluster's clocks are assumed synchronised (NTP).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from labcoat.errors import ClusterError, ConfigError
from labcoat.search.executor import Executor, TrialRequest
from labcoat.search.trial import PreprocessCache, Trial, TrialData

#: Seconds to wait for a TCP connection to the cluster's address before calling it unreachable.
CONNECT_TIMEOUT = 5.0
#: Seconds to wait for cancelled trials to be recorded as cancelled before going on.
CANCEL_WAIT = 5.0

#: A worker process's copy of the study data, by object reference (one study at a time).
_WORKER_DATA: dict[str, TrialData] = {}


def _run_trial(box: list[Any], request: TrialRequest, wall_deadline: float | None) -> Trial:
    """The Ray task: fetch the data once per worker process, then score the request."""
    import ray

    ref = box[0]  # in a list, so that Ray passes the reference instead of resolving it per task
    data = _WORKER_DATA.get(ref.hex())
    if data is None:
        _WORKER_DATA.clear()
        data = _WORKER_DATA[ref.hex()] = ray.get(ref)
    return request.run(data, wall_deadline)


class RayExecutor(Executor):
    """Runs trials as Ray tasks on the cluster at ``address`` (default: a local instance).

    Parameters
    ----------
    address : the cluster's address as ``ray start --head`` prints it (``HOST:PORT``), or
        ``"auto"``; ``None`` starts a local Ray instance for the study.
    cpus_per_trial : CPUs each task declares; models use that many threads.
    max_parallel : at most this many trials at once (default: the cluster's CPUs / cpus_per_trial).

    Examples
    --------
    >>> executor = RayExecutor("127.0.0.1:6379", cpus_per_trial=2)
    >>> executor.threads(lambda: 8), executor.describe()
    (2, 'ray 127.0.0.1:6379 (2 CPUs per trial)')
    """

    def __init__(self, address: str | None = None, *, cpus_per_trial: int = 1,
                 max_parallel: int | None = None, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.address = address
        self.cpus_per_trial = int(cpus_per_trial)
        self.max_parallel = max_parallel
        self.connect_timeout = connect_timeout
        self._capacity = 1
        self._measured = False
        self._owned = False
        self._reused = False
        self._data: Any = None
        self._task: Any = None
        self._pending: dict[Any, tuple[TrialRequest, float]] = {}

    @property
    def capacity(self) -> int:
        return self._capacity

    def check(self) -> None:
        import_ray()
        if self.address is not None:
            probe(self.address, self.connect_timeout)

    def threads(self, idle: Callable[[], int]) -> int:
        return self.cpus_per_trial

    def describe(self) -> str:
        where = "(this process's connection)" if self._reused else self.address or "local instance"
        slots = f"{self._capacity} trials at once, " if self._measured else ""
        return f"ray {where} ({slots}{self.cpus_per_trial} CPU{'s' if self.cpus_per_trial > 1 else ''} per trial)"

    def start(self, data: TrialData) -> None:
        ray = import_ray()
        self._connect(ray)
        cpus = float(ray.cluster_resources().get("CPU", 0.0))
        slots = int(cpus // self.cpus_per_trial)
        if slots < 1:
            raise ClusterError(f"The Ray cluster at {self.address or 'this machine'} has {cpus:g} CPUs; "
                               f"a trial needs {self.cpus_per_trial}. Add nodes with CPUs or lower cpus_per_trial.")
        self._capacity = min(slots, self.max_parallel or slots)
        self._measured = True
        self._data = ray.put(replace(data, cache=PreprocessCache(), n_jobs=self.cpus_per_trial))
        self._task = ray.remote(num_cpus=self.cpus_per_trial, max_retries=1, retry_exceptions=False)(_run_trial)

    def submit(self, request: TrialRequest) -> Any:
        ref = self._task.options(name=f"labcoat-trial-{request.number}").remote(
            [self._data], request, request.wall_deadline())
        self._pending[ref] = (request, time.monotonic())
        return ref

    def wait(self, handles: Sequence[Any], timeout: float | None = None) -> list[Trial]:
        import ray

        handles = [h for h in handles if h in self._pending]
        if not handles:
            return []
        ready, _ = ray.wait(handles, num_returns=1, timeout=timeout)
        if not ready:
            return []
        ready, _ = ray.wait(handles, num_returns=len(handles), timeout=0)
        return [self._result(ref) for ref in ready]

    def cancel(self, handles: Sequence[Any]) -> None:
        import ray

        cancelled = []
        for ref in handles:
            if self._pending.pop(ref, None) is not None:
                try:
                    ray.cancel(ref, force=True)
                    cancelled.append(ref)
                except Exception:  # noqa: BLE001 - already finished, or the cluster is gone
                    pass
        # ray.cancel only asks; a driver leaving before the answer has its tasks recorded as
        # dead workers rather than cancelled (seen in 1 of 4 runs of test_ray's interrupt test).
        if cancelled:
            try:
                ray.wait(cancelled, num_returns=len(cancelled), timeout=CANCEL_WAIT)
            except Exception:  # noqa: BLE001 - the cluster is gone: nothing left to wait for
                pass

    def stop(self) -> None:
        if self._pending:
            self.cancel(list(self._pending))
        self._data = self._task = None
        if self._owned:
            import ray

            ray.shutdown()
            self._owned = False

    # ------------------------------------------------------------------ internals
    def _connect(self, ray: Any) -> None:
        self._reused = ray.is_initialized()
        if self._reused:  # the caller's own connection: used, left open
            return
        self.check()
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if self.address is None:
                ray.init(address="local", include_dashboard=False, **options)
            else:
                ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            hint = ""
            if type(error.__cause__).__name__ == "AuthenticationError":
                hint = (" The cluster uses token authentication: set RAY_AUTH_MODE=token here, with its "
                        "token in ~/.ray/auth_token or RAY_AUTH_TOKEN.")
            raise ClusterError(f"Could not connect to the Ray cluster at {self.address or 'this machine'}: "
                               f"{error}.{hint}") from None
        self._owned = True

    def _result(self, ref: Any) -> Trial:
        import ray

        request, submitted = self._pending.pop(ref)
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as error:
            return request.unfinished("failed", failure_reason(error), time.monotonic() - submitted)


def failure_reason(error: BaseException) -> str:
    """Why a Ray task gave no trial, in words (the task itself never raises)."""
    import ray

    kind = type(error).__name__
    first = (str(error).strip().splitlines() or [""])[0][:300]
    if isinstance(error, ray.exceptions.OutOfMemoryError):
        return f"Ray's memory monitor killed its worker, twice (retried once): {kind}"
    if isinstance(error, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                          ray.exceptions.LocalRayletDiedError)):
        return f"the Ray worker running it died, twice (Ray retried it once): {kind}"
    if isinstance(error, ray.exceptions.RayTaskError):
        cause = error.cause if getattr(error, "cause", None) is not None else error
        return f"it raised on the Ray worker: {type(cause).__name__}: {str(cause).splitlines()[0][:300] if str(cause) else ''}"
    return f"{kind}: {first}"


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("The Ray executor needs Ray, which is not installed. Install it with "
                          "pip install 'labcoat[ray]' (or run without --executor ray).") from None
    return ray


def probe(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise :class:`ClusterError` unless something answers at ``address`` within ``timeout`` s.

    ``ray.init`` keeps retrying an unreachable address for minutes; this fails in seconds.
    Addresses without a port (``"auto"``) are left to Ray.

    Examples
    --------
    >>> probe("127.0.0.1:1", timeout=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labcoat.errors.ClusterError: No Ray cluster answers at 127.0.0.1:1 ...
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise ClusterError(
            f"No Ray cluster answers at {address} ({error.strerror or error}). Check the address "
            "(`ray start --head` prints it; the port is the head's GCS port, 6379 by default) and "
            "that the head node is running and reachable from here, or drop --ray-address to run "
            "trials on a Ray instance started on this machine.") from None


__all__ = ["RayExecutor", "failure_reason", "import_ray", "probe"]
