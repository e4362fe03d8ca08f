"""Adaptive micro-batching: requests that arrive together are predicted in one call.

A model's fixed cost per call (preparing, encoding, calling each ensemble member) dominates
small requests: on the serving benchmark's model one row costs about as much as thirty. When
clients send requests concurrently, the service therefore queues each request's checked rows
and predicts everything queued in one ``predict_frame`` call, then hands each request its own
rows of the answer. Nothing waits when there is nothing to wait for: the batch is predicted as
soon as no other request is still being read and checked (at most :data:`MAX_WAIT` seconds
after the first one queued), so a lone client pays one event-loop turn, not a timer.

Rows are predicted independently of each other by every labcoat model, so a row's answer is
the same alone or in a batch (``tests/test_serve.py`` checks it under load). If a batch fails,
each request is predicted alone, so a bad request's error reaches only that request.

Examples
--------
>>> batcher = MicroBatcher()                                   # doctest: +SKIP
>>> table = await batcher.predict(service.current, frame)       # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from labcoat.serve.service import Served

#: Longest a queued request waits for others still being read (seconds).
MAX_WAIT = 0.002
#: Requests of at least this many rows are predicted alone; a batch stops growing here.
MAX_ROWS = 512


class MicroBatcher:
    """Queues checked rows of concurrent requests and predicts them together."""

    def __init__(self, max_rows: int = MAX_ROWS, max_wait: float = MAX_WAIT,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.max_rows = max_rows
        self.max_wait = max_wait
        self.on_batch = on_batch
        self.reading = 0
        self._pending: list[tuple[Any, pd.DataFrame, asyncio.Future]] = []
        self._rows = 0
        self._first = 0.0

    @contextmanager
    def receiving(self) -> Iterator[None]:
        """Mark a request as being read and checked (a batch waits for it, briefly)."""
        self.reading += 1
        try:
            yield
        finally:
            self.reading -= 1

    async def predict(self, served: Served, frame: pd.DataFrame) -> pd.DataFrame:
        """``served.model.predict_frame(frame)``, batched with concurrent requests."""
        if len(frame) >= self.max_rows:
            if self.on_batch is not None:
                self.on_batch(1)
            return served.model.predict_frame(frame)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._pending:
            self._first = time.perf_counter()
            loop.call_soon(self._flush)
        self._pending.append((served, frame, future))
        self._rows += len(frame)
        return await future

    def _flush(self) -> None:
        waited = time.perf_counter() - self._first
        if self.reading and waited < self.max_wait and self._rows < self.max_rows:
            asyncio.get_running_loop().call_soon(self._flush)  # others are about to queue
            return
        pending, self._pending, self._rows = self._pending, [], 0
        groups: dict[int, list[tuple[Any, pd.DataFrame, asyncio.Future]]] = {}
        for item in pending:  # a hot swap can leave two models' requests in one batch
            groups.setdefault(id(item[0]), []).append(item)
        for items in groups.values():
            if self.on_batch is not None:
                self.on_batch(len(items))
            _answer(items)


def _answer(items: list[tuple[Any, pd.DataFrame, asyncio.Future]]) -> None:
    served = items[0][0]
    table = None
    if len(items) > 1:
        try:
            table = served.model.predict_frame(pd.concat([frame for _, frame, _ in items], ignore_index=True))
        except Exception:  # noqa: BLE001 - predicted alone below: the error reaches only its request
            table = None
    start = 0
    for _, frame, future in items:
        if future.done():  # its request was cancelled (client gone)
            pass
        elif table is not None:
            future.set_result(table.iloc[start:start + len(frame)].reset_index(drop=True))
        else:
            try:
                future.set_result(served.model.predict_frame(frame))
            except Exception as error:  # noqa: BLE001 - the request's handler decides 4xx or 500
                future.set_exception(error)
        start += len(frame)
