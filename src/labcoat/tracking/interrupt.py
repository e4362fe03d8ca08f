"""Closing a study's run when the study does not end normally, and store writes that an
interrupt does not cut in half."""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labcoat.tracking.recorder import StudyRecorder


@contextmanager
def closing_run_on_error(recorder: StudyRecorder | None) -> Iterator[None]:
    """Close ``recorder``'s run as KILLED on Ctrl-C or SIGTERM, as FAILED on an error; re-raise.

    Inside the block SIGTERM (``kill``) raises KeyboardInterrupt, so it is handled like Ctrl-C
    (in the main thread only: signals cannot be handled elsewhere). Without a recorder the
    block runs untouched.
    """
    if recorder is None:
        yield
        return
    previous = None
    if threading.current_thread() is threading.main_thread():
        def interrupt(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt("terminated")

        previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    except KeyboardInterrupt:
        recorder.abort("KILLED", "interrupted")
        raise
    except BaseException as error:
        recorder.abort("FAILED", f"{type(error).__name__}: {error}")
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then raise :class:`KeyboardInterrupt`.

    A store write cut by an interrupt can leave SQLite's write lock held by a half-done
    transaction, and the run's closing write then fails: the run stays RUNNING. Outside the
    main thread the block runs untouched.

    Examples
    --------
    >>> with deferred_interrupts():
    ...     signal.getsignal(signal.SIGTERM).__name__
    'hold'
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt("interrupted")
