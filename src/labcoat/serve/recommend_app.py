"""The REST service of a recommender: ``POST /recommend``, ``POST /feedback``, ``GET /health``,
``/ready``, ``/schema`` and the docs at ``/docs``.

A request names one user and may give the list length ``k``, the candidate ``items`` to rank
(default all) and items to ``exclude``. The list is chosen by the service's exploration policy
(:mod:`labcoat.serve.explore`: greedy by default, epsilon-greedy or Thompson sampling with
``explore``), and every shown item is logged with its position and the probability with which
the policy showed it there: what off-policy evaluation of another policy needs
(``labcoat evaluate-policy``). ``/feedback`` records a click or purchase on a shown item.

Examples
--------
>>> from fastapi.testclient import TestClient                                      # doctest: +SKIP
>>> client = TestClient(create_recommend_app(RecommendService("shop-model"), explore="0.05"))  # doctest: +SKIP
>>> client.post("/recommend", json={"user": "u1", "k": 3}).json()["items"][0]        # doctest: +SKIP
{'item': 'i42', 'position': 1, 'score': 0.93, 'propensity': 0.95, 'reason': 'personal: ease'}
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from labcoat.errors import LabcoatError
from labcoat.serve.app import JSONAnswer, _error, guard_and_probes, json_object
from labcoat.serve.docs import add_docs
from labcoat.serve.explore import EXPLORE_FORMS, parse_explore
from labcoat.serve.follow import TaskService
from labcoat.serve.predlog import PredictionLog
from labcoat.serve.service import MAX_BODY

#: The fields a /recommend body may hold.
FIELDS = ("user", "k", "items", "exclude", "segment")
#: The longest list one request may ask for.
MAX_K = 1000
#: Shown lists remembered in this process, for /feedback to find the position of a clicked item.
REMEMBERED = 100_000


@dataclass(frozen=True)
class ServedRecommender:
    """One loaded recommender, with its registry name and version ("local" for a folder)."""

    model: Any
    name: str
    version: str


class RecommendService(TaskService[ServedRecommender]):
    """The recommender a service answers with; with ``follow_alias``, a registry alias's newest
    version, swapped in with one assignment when the alias moves."""

    kind, holds = "recommend", "a recommender"

    def _served(self, model: Any, name: str, version: str) -> ServedRecommender:
        return ServedRecommender(model, name, version)


class _Shown:
    """The lists this process showed lately: request id → shown item ids (bounded)."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self._lists: OrderedDict[str, list[Any]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, request_id: str, items: list[Any]) -> None:
        with self._lock:
            self._lists[request_id] = items
            while len(self._lists) > self._size:
                self._lists.popitem(last=False)

    def get(self, request_id: str) -> list[Any] | None:
        with self._lock:
            return self._lists.get(request_id)


def create_recommend_app(service: RecommendService, *, token: str | None = None, explore: str | None = None,
                         log_path: str | Path = "predictions.db", max_body: int = MAX_BODY,
                         seed: int | None = None) -> FastAPI:
    """The FastAPI application answering ``service``'s recommender, exploring with ``explore``
    (None: greedy; ``"0.05"``: epsilon-greedy; ``"thompson"``)."""
    policy = parse_explore(explore)
    first = service.current
    app = FastAPI(title=f"labcoat: {first.name}", version=str(first.version), docs_url=None, redoc_url=None,
                  description=f"Recommends items to users ({len(first.model.item_ids):,} items, "
                              f"{len(first.model.user_ids):,} users at fit); exploration: {policy.describe()}.",
                  default_response_class=JSONAnswer)
    add_docs(app)
    log = PredictionLog(Path(log_path))
    shown = _Shown()
    rng = np.random.default_rng(seed)
    rng_lock = threading.Lock()

    guard_and_probes(app, service, token)

    @app.post("/recommend", openapi_extra=_openapi())
    async def recommend(request: Request) -> Response:
        """The user's top ``k`` items (default 10), chosen by the service's policy."""
        started = time.perf_counter()
        payload, problem = await json_object(request, max_body, FIELDS)
        if problem is not None:
            return problem
        try:
            user, k, items, excluded = _request(payload)
        except ValueError as error:
            return _error(422, str(error), "value_error")
        current = service.current  # the whole request answers with one version
        try:
            candidates, scores, reason = current.model.user_scores(user, items=items, exclude=excluded,
                                                                   segment=payload.get("segment"))
        except (LabcoatError, ValueError, TypeError, KeyError) as error:
            return _error(422, str(error), "value_error")
        if len(candidates) == 0:
            return _error(422, "no item is left to recommend after the exclusions", "value_error")
        with rng_lock:
            order, propensities = policy.rank(scores, k, rng)
        request_id = uuid.uuid4().hex
        records = [{"item": _plain(candidates[i]), "position": j + 1, "score": float(scores[i]),
                    "propensity": float(p), "reason": reason}
                   for j, (i, p) in enumerate(zip(order.tolist(), propensities.tolist()))]
        shown.add(request_id, [r["item"] for r in records])
        log.record({"request_id": request_id, "endpoint": "/recommend", "model": current.name,
                    "version": current.version, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "inputs": [{"user": _plain(user), "k": k, "items": items, "exclude": excluded,
                                "policy": policy.describe()}],
                    "outputs": records})
        return JSONAnswer({"request_id": request_id, "model": {"name": current.name, "version": current.version},
                           "policy": policy.describe(), "items": records}, headers={"X-Request-Id": request_id})

    @app.post("/feedback")
    async def feedback(request: Request) -> Response:
        """A reward (1 for a click by default, or a purchase's value) on an item of a shown list:
        ``{"request_id": ..., "item": ..., "reward": 1}`` (or ``"position"`` instead of ``"item"``)."""
        payload, problem = await json_object(request, max_body)
        if problem is not None:
            return problem
        request_id = payload.get("request_id")
        if not isinstance(request_id, str):
            return _error(422, 'expected {"request_id": "...", "item": ..., "reward": 1}', "body_error")
        reward = payload.get("reward", 1)
        if isinstance(reward, bool) or not isinstance(reward, (int, float)) or not np.isfinite(reward):
            return _error(422, f"reward must be a number (1 for a click, a purchase's value); got {reward!r}",
                          "type_error")
        items = shown.get(request_id)
        if items is None:
            items = _logged_items(log.path, request_id)
        if items is None:
            return _error(404, f"no list was shown under request_id {request_id!r}", "not_found")
        position = payload.get("position")
        if position is None:
            if "item" not in payload or payload["item"] not in items:
                return _error(422, f"item {payload.get('item')!r} was not in the list shown under {request_id!r} "
                                   f"(it showed {items})", "value_error")
            position = items.index(payload["item"]) + 1
        if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= len(items):
            return _error(422, f"position must be 1 to {len(items)}; got {position!r}", "value_error")
        log.feedback(request_id, [(position - 1, reward)])
        return JSONAnswer({"request_id": request_id, "position": position, "item": items[position - 1],
                           "reward": reward})

    @app.get("/schema")
    async def schema() -> dict[str, Any]:
        model = service.current.model
        return {"task": "recommend", "user": model.info.get("user"), "item": model.info.get("item"),
                "n_users": len(model.user_ids), "n_items": len(model.item_ids), "policy": policy.describe(),
                "explore_forms": EXPLORE_FORMS}

    app.state.log = log
    app.state.service = service
    return app


def _request(payload: dict[str, Any]) -> tuple[Any, int, list[Any] | None, list[Any]]:
    """The user, list length, candidate items and exclusions of a /recommend body."""
    if "user" not in payload or isinstance(payload["user"], (dict, list)) or payload["user"] is None:
        raise ValueError("user is required: the id of the user to recommend to")
    k = payload.get("k", 10)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be a whole number from 1 to {MAX_K}; got {k!r}")
    lists = []
    for name in ("items", "exclude"):
        value = payload.get(name)
        if value is not None and (not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value)):
            raise ValueError(f"{name} must be a list of item ids")
        lists.append(value)
    return payload["user"], k, lists[0], lists[1] or []


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _logged_items(path: Path, request_id: str) -> list[Any] | None:
    """The items shown under ``request_id`` by any process, from the prediction log."""
    from labcoat.serve.predlog import connect, ingest

    ingest(path)
    db = connect(path)
    try:
        row = db.execute("select outputs from predictions where request_id = ? and endpoint = '/recommend'",
                         (request_id,)).fetchone()
    finally:
        db.close()
    return None if row is None else [r["item"] for r in orjson.loads(row[0])]


def _openapi() -> dict[str, Any]:
    ids = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "required": ["user"], "properties": {
            "user": ids, "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10},
            "items": {"type": "array", "items": ids, "description": "rank only these items"},
            "exclude": {"type": "array", "items": ids, "description": "never show these items"},
            "segment": {"type": "string", "description": "a new user's segment (cold start)"}}}}}}}
