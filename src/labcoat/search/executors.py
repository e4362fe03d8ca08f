"""The executor factory: :func:`get_executor` picks an :class:`~labcoat.search.executor.Executor`
implementation by name.

It lives apart from the contract (``executor.py``) so that the contract imports none of its
implementations (``processes.py``, ``ray_executor.py``), which import the contract. Ray itself is
imported only when a :class:`~labcoat.search.ray_executor.RayExecutor` starts.
"""

from __future__ import annotations

from labcoat.errors import ConfigError
from labcoat.search.executor import Executor, LocalExecutor
from labcoat.search.processes import ProcessExecutor
from labcoat.search.ray_executor import RayExecutor


def get_executor(name: str | Executor | None = None, *, n_jobs: int | None = None,
                 address: str | None = None) -> Executor:
    """The executor called ``name``: ``"local"`` (default) or ``"ray"``, or ``name`` itself.

    ``"local"`` runs trials in this process, or in ``n_jobs`` processes when ``n_jobs > 1``;
    ``"ray"`` runs them as Ray tasks on the cluster at ``address`` (default: a Ray instance
    started on this machine for the study), at most ``n_jobs`` at once if given.

    Examples
    --------
    >>> type(get_executor()).__name__, type(get_executor("local", n_jobs=2)).__name__
    ('LocalExecutor', 'ProcessExecutor')
    """
    if isinstance(name, Executor):
        return name
    if n_jobs is not None and (isinstance(n_jobs, bool) or int(n_jobs) != n_jobs or n_jobs < 1):
        raise ConfigError(f"n_jobs must be a positive whole number; got {n_jobs!r}.")
    if name == "ray":
        return RayExecutor(address, max_parallel=n_jobs)
    if address is not None:
        raise ConfigError(f"A Ray address ({address!r}) needs the Ray executor: pass executor='ray' "
                          "(--executor ray).")
    if name in (None, "local"):
        if n_jobs is not None and n_jobs > 1:
            return ProcessExecutor(n_jobs)
        return LocalExecutor(n_jobs)
    raise ConfigError(f"Unknown executor {name!r}. Use 'local' or 'ray'.")


__all__ = ["get_executor"]
