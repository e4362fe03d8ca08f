"""Following a registry alias: a thread that looks at ``models:/NAME@ALIAS`` every few seconds
and, when the alias points at a new version, loads it and hands it to the service, which swaps
it in with one assignment (requests already running finish with the model they started with).

Examples
--------
>>> service = Service("models:/churn@champion", follow_alias=True)  # doctest: +SKIP
>>> service.swaps                                                     # doctest: +SKIP
[('1', '2')]
"""
from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Any, Generic, Protocol, TypeVar

from labcoat.errors import ConfigError

#: Seconds between two looks at the registry alias.
FOLLOW_SECONDS = 5.0


def check_followable(reference: str) -> None:
    """Refuse to follow a reference that is not a registry alias."""
    if "@" not in reference:
        raise ConfigError("--follow-alias needs a registry alias to follow, e.g. models:/churn@champion.")


class Versioned(Protocol):
    @property
    def version(self) -> str: ...


Loaded = TypeVar("Loaded", bound=Versioned)


class FollowedModel(ABC, Generic[Loaded]):
    """What a service answers with: :attr:`current` (the loaded model and its version) and,
    when following an alias, a daemon thread that calls :meth:`_load` whenever the alias's
    version differs from the current one and swaps the result in with one assignment. A version
    that cannot be loaded is logged and the loaded model kept."""

    reference: str
    tracking_uri: str | None
    current: Loaded

    def _start(self, reference: str, tracking_uri: str | None, current: Loaded, *, follow_alias: bool,
               seconds: float) -> None:
        self.reference, self.tracking_uri, self.current = reference, tracking_uri, current
        self.swaps: list[tuple[str, str]] = []
        self._stop = threading.Event()
        if follow_alias:
            check_followable(reference)
            threading.Thread(target=self._follow, args=(seconds,), name="labcoat-follow", daemon=True).start()

    @abstractmethod
    def _load(self) -> Loaded:
        """The model the reference points at now."""

    def _follow(self, seconds: float) -> None:
        from labcoat.tracking.registry import describe_reference

        while not self._stop.wait(seconds):
            try:
                if str(describe_reference(self.reference, self.tracking_uri)["version"]) == self.current.version:
                    continue
                fresh = self._load()
            except Exception as error:  # noqa: BLE001 - keep serving the loaded model; say why
                logging.getLogger("labcoat.serve").warning("could not load %s: %s", self.reference, error)
                continue
            previous, self.current = self.current, fresh
            self.swaps.append((previous.version, fresh.version))

    def close(self) -> None:
        self._stop.set()


class TaskService(FollowedModel[Loaded]):
    """The model of a task with a pipeline of its own (``load_own(reference, kind)``) that a
    service answers with; with ``follow_alias``, a registry alias's newest version, swapped in
    with one assignment when the alias moves. A subclass names its task (:attr:`kind`, and
    :attr:`holds` for the error) and wraps what is loaded (:meth:`_served`)."""

    kind: str = ""
    holds: str = ""

    def __init__(self, reference: str, *, tracking_uri: str | None = None, follow_alias: bool = False,
                 follow_seconds: float = FOLLOW_SECONDS, loaded: Loaded | None = None) -> None:
        self.reference, self.tracking_uri = reference, tracking_uri
        self._start(reference, tracking_uri, loaded or self._load(), follow_alias=follow_alias,
                    seconds=follow_seconds)

    def _load(self) -> Loaded:
        from labcoat.api import load_own

        loaded = load_own(self.reference, self.kind, self.tracking_uri)
        if loaded is None:
            raise ConfigError(f"{self.reference} does not hold {self.holds}.")
        return self._served(*loaded)

    @abstractmethod
    def _served(self, model: Any, name: str, version: str) -> Loaded:
        """What the service answers with, made of the loaded model and its name and version."""
