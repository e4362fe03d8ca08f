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
from typing import Generic, Protocol, TypeVar

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
