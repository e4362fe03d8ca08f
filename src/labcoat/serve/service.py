"""What a running service holds: the model it answers with, its settings, its prediction log,
and (with ``follow_alias``) a watcher that swaps in the registry's new champion.

Examples
--------
>>> service = Service("churn-model", log_path="predictions.db")   # doctest: +SKIP
>>> service.current.name, service.current.version                # doctest: +SKIP
('churn-model', 'local')
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labcoat.model import Model
from labcoat.serve.follow import FOLLOW_SECONDS, FollowedModel
from labcoat.serve.predlog import PredictionLog, known_request
from labcoat.serve.validation import Validator

#: Largest request body accepted (bytes): 10 MiB.
MAX_BODY = 10 * 2**20
#: Most rows accepted in one request.
MAX_BATCH = 10_000


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
    from labcoat.api import load_described, row_model

    loaded, described = load_described(reference, tracking_uri=tracking_uri)
    model = row_model(loaded, reference)
    model.warm_up()  # the first request answers as fast as the next
    if described is not None:
        return Served(model, described["name"], described["version"], reference)
    return Served(model, Path(reference).resolve().name, "local", str(Path(reference)))


class Service(FollowedModel[Served]):
    """A model being served, its limits, token and prediction log."""

    def __init__(self, reference: str, *, tracking_uri: str | None = None, token: str | None = None,
                 log_path: str | Path = "predictions.db", max_batch: int = MAX_BATCH, max_body: int = MAX_BODY,
                 follow_alias: bool = False, follow_seconds: float = FOLLOW_SECONDS) -> None:
        self.token = token or None
        self.max_batch = max_batch
        self.max_body = max_body
        self.log_path = Path(log_path)
        self._start(reference, tracking_uri, load_served(reference, tracking_uri), follow_alias=follow_alias,
                    seconds=follow_seconds)
        self.log = PredictionLog(self.log_path)

    def request_rows(self, request_id: str) -> int | None:
        """Rows of an earlier request in the log (None if unknown)."""
        return known_request(self.log_path, request_id)

    def close(self) -> None:
        super().close()
        self.log.close()

    def _load(self) -> Served:
        return load_served(self.reference, self.tracking_uri)
