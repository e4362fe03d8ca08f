"""The per-series work of a forecast fit on a Ray cluster (``executor="ray"``).

The local models' series are cut into chunks (four per cluster CPU) and each chunk is a Ray
task (named ``labcoat-forecast-<model>``, one CPU, retried once if its worker dies) that
estimates the model on every series of the chunk; the backtest windows and the final forecast
go out the same way. The global LightGBM model and the ensemble stay on the driver. Without
an address a Ray instance is started on this machine for the fit and stopped after it; a
connection the caller already holds is used and left open.

Examples
--------
>>> with on_ray("127.0.0.1:6379", candidates):   # doctest: +SKIP
...     trials = search(candidates, ...)
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from labcoat.errors import ClusterError
from labcoat.search.ray_executor import import_ray, probe
from labcoat.tasks.forecast.candidates import Candidate, Local


def _chunk_task(candidate: Local, histories: list[np.ndarray], specs: list[Any], horizon: int) -> tuple[np.ndarray, int]:
    return candidate._chunk(histories, specs, horizon)


@contextmanager
def on_ray(address: str | None, candidates: Sequence[Candidate]) -> Iterator[int]:
    """Within the block, the local ``candidates`` send their chunks of series to Ray; yields
    the cluster's CPUs."""
    ray = import_ray()
    if address is not None:
        probe(address)
    owned = not ray.is_initialized()
    if owned:
        try:
            ray.init(address=address or "local", log_to_driver=False, logging_level=logging.ERROR,
                     **({"include_dashboard": False} if address is None else {}))
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ClusterError(f"Could not connect to the Ray cluster at {address or 'this machine'}: {error}.") from None
    cpus = max(int(ray.cluster_resources().get("CPU", 1)), 1)
    task = ray.remote(num_cpus=1, max_retries=1)(_chunk_task)

    def mapper(candidate: Local, chunks: list[tuple[list[np.ndarray], list[Any], int]]) -> list[Any]:
        bare = copy.copy(candidate)
        bare.mapper = None
        shipped = ray.put(bare)
        refs = [task.options(name=f"labcoat-forecast-{candidate.name}").remote(shipped, *chunk) for chunk in chunks]
        try:
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as error:
            cause = error.cause if getattr(error, "cause", None) is not None else error
            if isinstance(cause, TimeoutError):
                raise TimeoutError(candidate.name) from None
            raise

    locals_ = [c for c in candidates if isinstance(c, Local)]
    saved = [(c.mapper, c.n_jobs) for c in locals_]
    for c in locals_:
        c.mapper, c.n_jobs = mapper, cpus
    try:
        yield cpus
    finally:
        for c, (old_mapper, old_jobs) in zip(locals_, saved):
            c.mapper, c.n_jobs = old_mapper, old_jobs
        if owned:
            ray.shutdown()
