"""Following a registry alias: a thread that looks at ``models:/NAME@ALIAS`` every few seconds
and, when the alias points at a new version, loads it and hands it to the service, which swaps
it in with one assignment (requests already running finish with the model they started with).

Examples
--------
>>> import threading
>>> stop = threading.Event()
>>> start_following("models:/demand@champion", None, lambda: "1", lambda: None, stop=stop)  # doctest: +SKIP
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from labcoat.errors import ConfigError

#: Seconds between two looks at the registry alias.
FOLLOW_SECONDS = 5.0


def check_followable(reference: str) -> None:
    """Refuse to follow a reference that is not a registry alias."""
    if "@" not in reference:
        raise ConfigError("--follow-alias needs a registry alias to follow, e.g. models:/churn@champion.")


def start_following(reference: str, tracking_uri: str | None, version: Callable[[], str], reload: Callable[[], None], *,
                 stop: threading.Event, seconds: float = FOLLOW_SECONDS) -> threading.Thread:
    """Start a daemon thread that calls ``reload()`` whenever the alias's version differs from
    ``version()``, until ``stop`` is set. A version that cannot be loaded is logged and the
    loaded model kept."""
    from labcoat.tracking.registry import describe_reference

    def watch() -> None:
        while not stop.wait(seconds):
            try:
                if str(describe_reference(reference, tracking_uri)["version"]) != version():
                    reload()
            except Exception as error:  # noqa: BLE001 - keep serving the loaded model; say why
                logging.getLogger("labcoat.serve").warning("could not load %s: %s", reference, error)

    thread = threading.Thread(target=watch, name="labcoat-follow", daemon=True)
    thread.start()
    return thread
