"""What a running service holds: the model it answers with, its settings, its prediction log,
and (with ``follow_alias``) a watcher that swaps in the registry's new champion.

Examples
--------
>>> service = Service("churn-model", log_path="predictions.db")   # doctest: +SKIP
>>> service.current.name, service.current.version                # doctest: +SKIP
('churn-model', 'local')
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from labcoat.model import Model
from labcoat.serve.predlog import PredictionLog, known_request
from labcoat.serve.validation import Validator

#: Largest request body accepted (bytes): 10 MiB.
MAX_BODY = 10 * 2**20
#: Most rows accepted in one request.
MAX_BATCH = 10_000
#: Seconds between two looks at the registry alias with ``follow_alias``.
FOLLOW_SECONDS = 5.0


@dataclass
class Served:
    """One loaded model and what answering with it needs."""

    model: Model
    name: str
    version: str
    source: str
    validator: Validator = field(init=False)
    #: The prediction table's columns and their types (``Task.output_columns``).
    outputs: list[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.validator = Validator(self.model.schema)
        self.outputs = self.model.task.output_columns(self.model.schema.target, self.model.schema.classes)


def load_served(reference: str, tracking_uri: str | None = None) -> Served:
    """Load a model folder or a registry/run URI (a registered model's SHA-256 checked first)."""
    from labcoat.api import STORE_SCHEMES, load_tabular

    model = load_tabular(reference, tracking_uri=tracking_uri)
    if reference.startswith(STORE_SCHEMES):
        from labcoat.tracking.registry import describe_reference

        described = describe_reference(reference, tracking_uri)
        return Served(model, described["name"], described["version"], reference)
    path = Path(reference)
    return Served(model, path.resolve().name, "local", str(path))


class Service:
    """A model being served, its limits, token and prediction log."""

    def __init__(self, reference: str, *, tracking_uri: str | None = None, token: str | None = None,
                 log_path: str | Path = "predictions.db", max_batch: int = MAX_BATCH, max_body: int = MAX_BODY,
                 follow_alias: bool = False, follow_seconds: float = FOLLOW_SECONDS) -> None:
        self.reference = reference
        self.tracking_uri = tracking_uri
        self.token = token or None
        self.max_batch = max_batch
        self.max_body = max_body
        self.log_path = Path(log_path)
        self.current = load_served(reference, tracking_uri)
        self.log = PredictionLog(self.log_path)
        self.swaps: list[tuple[str, str]] = []
        self._stop = threading.Event()
        if follow_alias:
            if "@" not in reference:
                from labcoat.errors import ConfigError

                raise ConfigError("--follow-alias needs a registry alias to follow, e.g. models:/churn@champion.")
            threading.Thread(target=self._follow, args=(follow_seconds,), name="labcoat-follow", daemon=True).start()

    def request_rows(self, request_id: str) -> int | None:
        """Rows of an earlier request in the log (None if unknown)."""
        return known_request(self.log_path, request_id)

    def close(self) -> None:
        self._stop.set()
        self.log.close()

    def _follow(self, seconds: float) -> None:
        """Load the alias's new version when it moves, then swap it in with one assignment:
        requests already running finish with the model they started with."""
        from labcoat.tracking.registry import describe_reference

        while not self._stop.wait(seconds):
            try:
                described = describe_reference(self.reference, self.tracking_uri)
                if described["version"] == self.current.version:
                    continue
                fresh = load_served(self.reference, self.tracking_uri)
            except Exception as error:  # noqa: BLE001 - keep serving the loaded model; say why
                import logging

                logging.getLogger("labcoat.serve").warning("could not load %s: %s", self.reference, error)
                continue
            previous = self.current
            self.current = fresh
            self.swaps.append((previous.version, fresh.version))

