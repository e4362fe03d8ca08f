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
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt("terminated")
