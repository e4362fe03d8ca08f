"""A worker process of :class:`labcoat.search.processes.ProcessExecutor`.

``python -m labcoat._trial_worker FD DATA THREADS MEMORY PARENT``: read the study's data from the
file ``DATA`` once, then answer each ``(TrialRequest, wall deadline)`` received on the socket ``FD``
with its :class:`~labcoat.search.trial.Trial` (or, if the request cannot be loaded here, a string
saying why), until ``b"stop"`` or the end of the socket.

Started as a plain subprocess, not by ``multiprocessing``'s spawn, so that a user's script is
never imported again in the worker. Only the standard library is imported before the thread
limits are set, so that OpenMP and BLAS pools read them. The worker dies with its parent
(Linux), ignores Ctrl-C (the parent stops it) and, with ``MEMORY`` > 0, cannot take more than
that many bytes of address space: a memory blow-up is then a ``MemoryError`` in one trial.
"""

from __future__ import annotations

import os
import signal
import sys

#: The message that ends the worker.
STOP = b"stop"


def main(argv: list[str]) -> int:
    fd, data_path, threads, memory, parent = argv
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = threads
    _die_with_parent(int(parent))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if int(memory) > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    import pickle
    from multiprocessing.connection import Connection

    conn = Connection(int(fd))
    with open(data_path, "rb") as file:
        data = pickle.load(file)
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return 0
        if message == STOP:
            return 0
        try:
            request, wall_deadline = pickle.loads(message)
        except Exception as error:  # noqa: BLE001 - e.g. a family class this process cannot import
            conn.send(f"the worker process could not load it: {type(error).__name__}: {error}")
            continue
        trial = request.run(data, wall_deadline)
        try:
            conn.send(trial)
        except Exception as error:  # noqa: BLE001 - an unpicklable result is this trial's failure
            conn.send(request.unfinished("failed", f"its result could not be sent back: {error}",
                                         trial.duration))


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the parent dies (no orphaned trial keeps running)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
