"""SIGTERM handled like Ctrl-C while a study runs, so that its workers are stopped either way."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM raises :class:`KeyboardInterrupt` (main thread only).

    ``finally`` blocks then run on ``kill`` as on Ctrl-C: the study cancels its trials and
    stops its worker processes or Ray tasks. The previous handler is restored on exit.

    Examples
    --------
    >>> with sigterm_as_interrupt():
    ...     signal.getsignal(signal.SIGTERM).__name__
    '_interrupt'
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _terminated.clear()


def raise_if_terminated() -> None:
    """Raise the interrupt a SIGTERM asked for if its first raise was lost: a signal handled
    while Python runs a weakref or garbage-collection callback has its exception printed as
    "Exception ignored in ..." and dropped (seen in CI: SQLAlchemy's ``_collection_gced``),
    and the fit went on to the end of its budget.

    Examples
    --------
    >>> raise_if_terminated()  # no SIGTERM: nothing happens
    """
    if _terminated.is_set():
        raise KeyboardInterrupt("terminated")


#: Set by the SIGTERM handler until the block ends, so that a lost raise can be raised again.
_terminated = threading.Event()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _terminated.set()
    raise KeyboardInterrupt("terminated")
