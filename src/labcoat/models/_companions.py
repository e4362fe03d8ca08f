"""What a family builds from a fitted estimator to predict a few rows fast (a flat tree walker,
a single-row C predictor), kept beside the estimator.

A :class:`Companions` builds one on first use and keeps it by the estimator's identity (so
unhashable estimators, such as CatBoost's, work too), drops it with the estimator, never
pickles it with a model, and builds it again once the estimator was fitted again (its
``version``, a tuple of the parts a refit replaces, has changed).

>>> class Estimator: ...
>>> lengths = Companions(lambda e: len(e.trees), version=lambda e: (e.trees,))
>>> est = Estimator(); est.trees = [1, 2]
>>> lengths.get(est)
2
>>> est.trees = [1, 2, 3]   # fitted again
>>> lengths.get(est)
3
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _same(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    """Parts compared by identity (the entry keeps them alive, so an identity is not reused),
    numbers by value."""
    return len(old) == len(new) and all(a is b or (isinstance(a, int) and a == b) for a, b in zip(old, new))


class Companions(Generic[T]):
    """Companions built by ``build`` from fitted estimators; ``None`` for an estimator whose
    ``build`` raised one of ``failures`` (or that :meth:`reject` was told of): its library
    predicts."""

    def __init__(self, build: Callable[[Any], T | None], *, version: Callable[[Any], tuple[Any, ...]],
                 failures: tuple[type[BaseException], ...] = ()) -> None:
        self._build, self._version, self._failures = build, version, failures
        self._entries: dict[int, tuple[weakref.ref[Any], tuple[Any, ...], T | None]] = {}

    def get(self, estimator: Any) -> T | None:
        """The estimator's companion, built now if it has none for its current fit."""
        version = self._version(estimator)
        entry = self._entries.get(id(estimator))
        if entry is not None and entry[0]() is estimator and _same(entry[1], version):
            return entry[2]
        try:
            built = self._build(estimator)
        except self._failures:
            built = None
        self._keep(estimator, version, built)
        return built

    def reject(self, estimator: Any) -> None:
        """No companion for the estimator's current fit (it disagreed with the library)."""
        self._keep(estimator, self._version(estimator), None)

    def forget(self, estimator: Any) -> None:
        """Drop the estimator's companion (it is about to be fitted again)."""
        self._entries.pop(id(estimator), None)

    def _keep(self, estimator: Any, version: tuple[Any, ...], built: T | None) -> None:
        key, entries = id(estimator), self._entries

        def gone(ref: weakref.ref[Any]) -> None:  # only its own entry: the id may be reused
            if key in entries and entries[key][0] is ref:
                del entries[key]

        entries[key] = (weakref.ref(estimator, gone), version, built)
