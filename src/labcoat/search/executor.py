"""Where trials run. The default runs them one after another in this process.

An :class:`Executor` receives a family, parameters and the study's :class:`TrialData` and
returns a finished :class:`Trial`; it never raises for a failing configuration (the trial
records the failure). Other executors (processes, a Ray cluster) keep the same contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

from labcoat.models import Family, Params
from labcoat.search.trial import Trial, TrialData, evaluate_trial


class Executor(ABC):
    """Runs trials. Implementations must return a :class:`Trial` for every call."""

    @abstractmethod
    def evaluate(self, family: Family, params: Params, data: TrialData, *, number: int,
                 origin: Literal["portfolio", "optuna"], deadline: float | None) -> Trial:
        """Score one configuration (see :func:`labcoat.search.trial.evaluate_trial`)."""

    def close(self) -> None:
        """Release resources; the default executor holds none."""


class LocalExecutor(Executor):
    """Runs each trial in this process, using all cores inside the model (``n_jobs``)."""

    def evaluate(self, family: Family, params: Params, data: TrialData, *, number: int,
                 origin: Literal["portfolio", "optuna"], deadline: float | None) -> Trial:
        return evaluate_trial(family, params, data, number=number, origin=origin, deadline=deadline)


def get_executor(name: str | Executor | None) -> Executor:
    """The executor called ``name`` (only ``"local"`` for now)."""
    from labcoat.errors import ConfigError

    if isinstance(name, Executor):
        return name
    if name in (None, "local"):
        return LocalExecutor()
    raise ConfigError(f"Unknown executor {name!r}. Use 'local'.")


__all__: list[Any] = ["Executor", "LocalExecutor", "get_executor"]
