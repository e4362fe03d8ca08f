"""The per-series and global work of a forecast fit on a Ray cluster (``executor="ray"``).

What runs where, and through which library:

- **Local models** (statsforecast's, one per series): the series are cut into chunks (four per
  cluster CPU) and each chunk is a Ray task (named ``labcoat-forecast-<model>``, one CPU,
  retried once if its worker dies) that estimates the model on every series of the chunk with
  labcoat's per-series rules (each series' last ``LOCAL_HISTORY`` values, its own seasonal
  period, the naive fallback counted, the deadline); the backtest windows and the final
  forecast go out the same way. These are labcoat's own tasks, not statsforecast's Fugue back
  end, which fits one set of models over all series from a long frame and has none of those
  rules. Sending labcoat's chunk function through Fugue's Ray engine instead (``fugue.api.
  transform(..., partition={"by": series, "num": 8}, engine="ray")``) kept the forecasts but
  not the cost: AutoTheta on 210 series of 40 days, 2-node local cluster of 1 CPU each on a
  2-core machine shared with other work, took 14.5-15.2 s a forecast through Fugue (a Ray
  Data job and a shuffle by series) against 0.5 s through these tasks once the workers were
  warm (3.8 s the first time; 0.4 s in the driver alone), and a fit makes one per window.
- **The global LightGBM models** train and forecast through mlforecast's distributed back end
  (:mod:`.ray_global`: ``DistributedMLForecast`` on a Ray Dataset, its features computed per
  partition of series by Fugue's Ray engine, LightGBM trained by ``lightgbm_ray`` actors) for
  panels of :data:`GLOBAL_ROWS` rows or more, on a cluster of at least 2 CPUs with
  ``lightgbm_ray`` installed; otherwise on the driver (with a notice saying why). A fitted model keeps a local copy (``to_local()``) for later forecasts.
- The ensemble, the baselines and the intervals stay on the driver.

Without an address a Ray instance is started on this machine for the fit and stopped after it;
a connection the caller already holds is used and left open.

Examples
--------
>>> with on_ray("127.0.0.1:6379", candidates):   # doctest: +SKIP
...     trials = search(candidates, ...)
"""
from __future__ import annotations

import copy
import importlib.util
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from labcoat.errors import ClusterError, LabcoatNotice
from labcoat.search.ray_executor import import_ray, probe
from labcoat.tasks.forecast.candidates import Candidate, GlobalLightGBM, Local

#: Panels of this many rows or more train their global models on the cluster; below, on the
#: driver. Ray Data and Fugue cost ~25 s a fit whatever the size (10 series of 200 days: 23-31 s
#: against 0.7 s on the driver); the driver's fit grows with the rows, and its memory with them
#: (1.02 million rows, 1,400 ``make_retail`` series of two years: 15.8 s on 2 cores), so the
#: cluster's fixed cost is about a driver's fit of two million rows.
GLOBAL_ROWS = 2_000_000
#: What the global model on Ray needs, installed without their declared requirements (see
#: pyproject.toml's ``ray`` extra).
LIBRARIES = "lightgbm_ray==0.1.9 xgboost_ray==0.1.19"


def _chunk_task(candidate: Local, histories: list[np.ndarray], specs: list[Any], horizon: int) -> tuple[np.ndarray, int]:
    return candidate._chunk(histories, specs, horizon)


@contextmanager
def on_ray(address: str | None, candidates: Sequence[Candidate], rows: int = 0) -> Iterator[int]:
    """Within the block, the local ``candidates`` send their chunks of series to Ray and, for a
    panel of ``rows`` >= :data:`GLOBAL_ROWS`, the global ones train and forecast through
    mlforecast's Ray back end; yields the cluster's CPUs.

    Examples
    --------
    >>> with on_ray(None, [GlobalLightGBM()], rows=5_000_000) as cpus:   # doctest: +SKIP
    ...     cpus
    2
    """
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
    globals_ = [c for c in candidates if isinstance(c, GlobalLightGBM)]
    cluster = global_on_ray(cpus, rows) if globals_ else None
    for g in globals_:
        g.cluster = cluster
    try:
        yield cpus
    finally:
        for c, (old_mapper, old_jobs) in zip(locals_, saved):
            c.mapper, c.n_jobs = old_mapper, old_jobs
        for g in globals_:  # the local copy (an MLForecast) stays; the cluster's is gone with it
            g.cluster = g.remote = None
        if owned:
            ray.shutdown()


def global_on_ray(cpus: int, rows: int) -> Any:
    """What trains the global models on the cluster (:class:`.ray_global.RayGlobal`), or None:
    they train on the driver, with a notice, for a panel of fewer than :data:`GLOBAL_ROWS` rows,
    without ``lightgbm_ray``, or with a single CPU."""
    why = (f"{rows:,} rows are fewer than the {GLOBAL_ROWS:,} from which the cluster's fixed costs (~25 s a fit) "
           "pay off" if rows < GLOBAL_ROWS else
           f"that needs lightgbm_ray. Install it with: pip install --no-deps {LIBRARIES}"
           if importlib.util.find_spec("lightgbm_ray") is None else
           f"the cluster has {cpus} CPU, and LightGBM's actors need one more for the data they read"
           if cpus < 2 else None)
    if why is not None:
        warnings.warn(f"The global LightGBM models train on this machine, not on the Ray cluster: {why}.",
                      LabcoatNotice, stacklevel=3)
        return None
    from labcoat.tasks.forecast.ray_global import RayGlobal

    return RayGlobal(cpus)
