"""The REST service: FastAPI over one loaded model.

Endpoints: ``POST /predict`` (labcoat), ``POST /invocations`` (MLflow's scoring protocol), the
Open Inference Protocol v2 (``/v2/...``), ``POST /feedback``, ``GET /health``, ``/ready``,
``/schema``, ``/metrics`` (Prometheus) and the OpenAPI docs at ``/docs``.

Bodies are read with orjson and checked by :class:`~labcoat.serve.validation.Validator`, not by
pydantic models: per-column checks over whole arrays cost a fraction of per-cell model
validation on wide requests. The request schemas are still documented in the OpenAPI spec
(built from the training schema), so clients and schemathesis know them. A bad request is
answered 4xx with the field, value and reason; only a bug of the service answers 500.

Examples
--------
>>> from fastapi.testclient import TestClient                      # doctest: +SKIP
>>> client = TestClient(create_app(Service("churn-model")))       # doctest: +SKIP
>>> client.post("/predict", json={"rows": [row]}).json()["predictions"]  # doctest: +SKIP
['no']
"""
from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from labcoat.errors import LabcoatError
from labcoat.serve import openapi
from labcoat.serve.batching import MicroBatcher
from labcoat.serve.docs import add_docs
from labcoat.serve.metrics import ServiceMetrics
from labcoat.serve.protocols import read_invocations, read_predict, read_v2, v2_inputs, v2_outputs
from labcoat.serve.service import Served, Service
from labcoat.serve.validation import Problem, RequestInvalid

#: Paths answered without a token (probes must work without credentials).
OPEN_PATHS = frozenset({"/health", "/ready", "/v2/health/live", "/v2/health/ready"})


def create_app(service: Service) -> FastAPI:
    """The FastAPI application serving ``service``'s model."""
    served = service.current
    app = FastAPI(title=f"labcoat: {served.name}", version=str(served.version),
                  description=f"Predicts '{served.model.schema.target}' ({served.model.task.name}).",
                  default_response_class=JSONAnswer, docs_url=None, redoc_url=None)
    add_docs(app)
    metrics = ServiceMetrics(served.model)
    batcher = MicroBatcher(on_batch=metrics.batch)
    specs = openapi.Specs(served.model.schema)

    async def run(request: Request, read: Callable[[Any], tuple[Any, Any]]) -> tuple[dict[str, list[Any]], Any, Served, Any]:
        """Read, check and predict a request's rows (``read``: a protocol's reader, JSON body →
        frame and what else the body said): the predictions table as lists by column, the
        checked rows, the model that answered (the current one, even if a swap happens
        meanwhile) and the reader's extra."""
        with batcher.receiving():
            frame, extra = read(await _json(request, service.max_body))
            if len(frame) > service.max_batch:
                raise _TooLarge(f"{len(frame):,} rows is over the limit of {service.max_batch:,} per request "
                                "(--max-batch); split the request")
            current = service.current
            checked = current.validator.check(frame)  # RequestInvalid / LabcoatError: the caller's 4xx
        table = _lists(await batcher.predict(current, checked.frame))
        metrics.predictions(table, checked.warnings)
        return table, checked, current, extra

    def answer(request_id: str, endpoint: str, started: float, current: Served, checked: Any,
               outputs: list[dict[str, Any]], payload: dict[str, Any]) -> JSONAnswer:
        latency = (time.perf_counter() - started) * 1000
        service.log.record({"request_id": request_id, "endpoint": endpoint, "model": current.name,
                            "version": current.version, "latency_ms": round(latency, 3),
                            "inputs": _records(_lists(checked.frame)), "outputs": outputs,
                            "warnings": [w.to_dict() for w in checked.warnings]})
        return JSONAnswer(payload, headers={"X-Request-Id": request_id})

    @app.post("/predict", openapi_extra=specs.predict, responses=openapi.ERRORS)
    async def predict(request: Request) -> Response:
        """Predict rows given as records or columns: predictions, class probabilities, model
        name and version, request id, and what validation flagged."""
        started = time.perf_counter()
        try:
            table, checked, current, _ = await run(request, read_predict)
        except REFUSED as error:
            return refusal(error).response(metrics)
        request_id = uuid.uuid4().hex
        predicted, *probabilities = table.values()
        payload: dict[str, Any] = {"request_id": request_id, "model": {"name": current.name, "version": current.version},
                                   "predictions": predicted, "probabilities": None,
                                   "warnings": [w.to_dict() for w in checked.warnings]}
        labels = current.model.task.probability_labels(current.model.schema.classes)
        if labels:
            payload["probabilities"] = [dict(zip(labels, row)) for row in zip(*probabilities)]
        return answer(request_id, "/predict", started, current, checked, _records(table), payload)

    @app.post("/invocations", openapi_extra=specs.invocations, responses=openapi.ERRORS)
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol: clients of ``mlflow models serve`` work unchanged."""
        started = time.perf_counter()
        try:
            table, checked, current, _ = await run(request, read_invocations)
        except REFUSED as error:
            return refusal(error).response(metrics)
        records = _records(table)
        return answer(uuid.uuid4().hex, "/invocations", started, current, checked, records, {"predictions": records})

    @app.post("/v2/models/{name}/infer", openapi_extra={**specs.v2_infer, **specs.model_name(served.name)},
              responses=openapi.ERRORS_V2)
    async def v2_infer(name: str, request: Request) -> Response:
        """Open Inference Protocol v2 inference: one tensor per column in, one per output out."""
        started = time.perf_counter()
        if name != service.current.name:
            return _error(404, f"no model '{name}' here; this service serves '{service.current.name}'", "not_found")
        try:
            table, checked, current, given_id = await run(request, read_v2)
        except REFUSED as error:
            return refusal(error).response(metrics)
        request_id = given_id or uuid.uuid4().hex
        return answer(request_id, f"/v2/models/{name}/infer", started, current, checked, _records(table),
                      {"model_name": current.name, "model_version": str(current.version), "id": request_id,
                       "outputs": v2_outputs(table)})

    @app.post("/feedback", openapi_extra=openapi.FEEDBACK, responses=openapi.ERRORS_V2)
    async def feedback(request: Request) -> Response:
        """Attach ground-truth labels to an earlier prediction by its request id (for monitoring)."""
        try:
            body = await _json(request, service.max_body)
            request_id, labels = openapi.read_feedback(body)
        except REFUSED as error:
            return refusal(error).response(metrics)
        rows = service.request_rows(request_id)
        if rows is None:
            return _error(404, f"no prediction with request id '{request_id}' in the log", "not_found")
        outside = [row for row, _ in labels if not 0 <= row < rows]
        if outside:
            return _error(422, f"row {outside[0]} is not in request '{request_id}' ({rows} row(s))", "value_error")
        service.log.feedback(request_id, labels)
        return JSONAnswer({"request_id": request_id, "labels": len(labels)})

    @app.get("/health", responses=openapi.PLAIN)
    async def health() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/ready", responses=openapi.PLAIN)
    async def ready() -> dict[str, Any]:
        """A model is loaded and answers."""
        return {"status": "ready", "model": service.current.name, "version": service.current.version}

    @app.get("/schema", responses=openapi.PLAIN)
    async def schema() -> dict[str, Any]:
        """The input schema from training: columns, types, allowed categories, ranges."""
        return openapi.input_schema(service.current.model.schema)

    @app.get("/metrics", response_class=Response, responses=openapi.METRICS)
    async def prometheus() -> Response:
        """Prometheus metrics: requests and latency per endpoint and status, predictions,
        validation failures and flags."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v2/health/live", responses=openapi.PLAIN)
    async def v2_live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", responses=openapi.PLAIN)
    async def v2_ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/v2/models/{name}/ready", responses=openapi.PLAIN_V2, openapi_extra=specs.model_name(served.name))
    async def v2_model_ready(name: str) -> Response:
        if name != service.current.name:
            return _error(404, f"no model '{name}' here; this service serves '{service.current.name}'", "not_found")
        return JSONAnswer({"name": name, "ready": True})

    @app.get("/v2/models/{name}", responses=openapi.PLAIN_V2, openapi_extra=specs.model_name(served.name))
    async def v2_metadata(name: str) -> Response:
        current = service.current
        if name != current.name:
            return _error(404, f"no model '{name}' here; this service serves '{current.name}'", "not_found")
        outputs = [{"name": c, "datatype": "BYTES" if kind == "string" else "FP64", "shape": [-1]}
                   for c, kind in current.outputs]
        return JSONAnswer({"name": current.name, "versions": [str(current.version)], "platform": "labcoat",
                               "inputs": v2_inputs(current.model.schema), "outputs": outputs})

    app.state.service = service
    app.state.metrics = metrics
    app.state.batcher = batcher
    app.add_middleware(Guard, service=service, metrics=metrics)
    return app


class JSONAnswer(JSONResponse):
    """A JSON response serialised by orjson (FastAPI deprecated its own ORJSONResponse in
    favour of pydantic models, which this service does not use for bodies: see the module
    docstring)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class Guard:
    """Token, body size and metrics for every request, as plain ASGI middleware (Starlette's
    ``@app.middleware("http")`` wraps each request in extra tasks and streams, about a
    millisecond a request)."""

    def __init__(self, app: Any, service: Service, metrics: ServiceMetrics) -> None:
        self.app, self.service, self.metrics = app, service, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        status = [500]

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())
                   if k in (b"authorization", b"content-length")}
        size = headers.get("content-length", "")
        refusal_: Response | None = None
        if self.service.token and path not in OPEN_PATHS and not _authorized(headers, self.service.token):
            refusal_ = _error(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)", "auth",
                              headers={"WWW-Authenticate": "Bearer"})
        elif size.isdigit() and int(size) > self.service.max_body:
            await _drain(receive, 4 * self.service.max_body)
            refusal_ = _error(413, f"body of {int(size):,} bytes is over the {self.service.max_body:,}-byte limit",
                              "too_large")
        try:
            if refusal_ is not None:
                await refusal_(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(_route(path), status[0], time.perf_counter() - started)


class _Refused(Exception):
    status = 422

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems

    def response(self, metrics: ServiceMetrics) -> Response:
        for p in self.problems:
            metrics.failure(p.kind)
        return JSONAnswer({"detail": [p.detail() for p in self.problems]}, status_code=self.status)


class _TooLarge(_Refused):
    status = 413

    def __init__(self, reason: str) -> None:
        super().__init__([Problem("body", reason, kind="too_large")])


def _lists(frame: Any) -> dict[str, list[Any]]:
    """A frame's columns as plain lists (the JSON answer, the log and the metrics read these;
    ``DataFrame.to_dict`` costs ~0.3 ms on one row, this ~0.03 ms)."""
    return dict(zip(map(str, frame.columns), frame.to_numpy(dtype=object).T.tolist()))


def _records(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]


async def _json(request: Request, limit: int) -> Any:
    """The parsed JSON body; a body over ``limit`` bytes is refused (413) while it streams in."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"body over the {limit:,}-byte limit")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as error:
        raise _Refused([Problem("body", f"not valid JSON ({error})", kind="json_invalid")]) from None


async def _drain(receive: Any, limit: int) -> None:
    """Read and drop a refused body (up to ``limit`` bytes), so the client gets the 413 answer
    rather than a connection reset while it is still sending."""
    seen = 0
    while seen <= limit:
        message = await receive()
        seen += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def guard_and_probes(app: FastAPI, service: Any, token: str | None) -> None:
    """What the services of a forecaster or a recommender share: the bearer-token guard (not on
    the probes), ``GET /health`` and ``GET /ready`` (the version ``service.current`` answers with)."""

    if token:  # Starlette's middleware costs about a millisecond a request: none without a token
        @app.middleware("http")
        async def guard(request: Request, call_next: Any) -> Response:
            if request.url.path not in ("/health", "/ready") and not _authorized(dict(request.headers), token):
                return _error(401, "missing or wrong bearer token", "unauthorized", {"WWW-Authenticate": "Bearer"})
            return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> dict[str, Any]:
        return {"ready": True, "model": service.current.name, "version": service.current.version}


def _authorized(headers: dict[str, str], token: str) -> bool:
    given = headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


async def json_object(request: Request, max_body: int, fields: tuple[str, ...] | None = None
                      ) -> tuple[dict[str, Any], Response | None]:
    """The request's body as a JSON object, or the answer refusing it: 413 over ``max_body``
    bytes, 400 when it is not JSON, 422 when it is not an object or has a field not in
    ``fields`` (when given). The task services (forecast, recommend, match) read bodies so."""
    body = await request.body()
    if len(body) > max_body:
        return {}, _error(413, f"the body is over {max_body:,} bytes", "too_large")
    try:
        payload = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as error:
        return {}, _error(400, f"the body is not JSON: {error}", "json_invalid")
    if not isinstance(payload, dict):
        return {}, _error(422, "the body must be a JSON object" + (f" with fields {', '.join(fields)}" if fields else ""),
                          "type_error")
    unknown = [k for k in payload if fields is not None and k not in fields]
    if unknown:
        return {}, _error(422, f"unknown field(s) {unknown}; the fields are {', '.join(fields or ())}",
                          "extra_forbidden")
    return payload, None


def _error(status: int, reason: str, kind: str, headers: dict[str, str] | None = None) -> JSONAnswer:
    return JSONAnswer({"detail": [Problem("request", reason, kind=kind).detail()]}, status_code=status,
                          headers=headers)


def _route(path: str) -> str:
    """The endpoint label for metrics (model names in v2 paths folded, unknown paths as one)."""
    if path.startswith("/v2/models/"):
        return "/v2/models/{name}" + ("/infer" if path.endswith("/infer") else "/ready" if path.endswith("/ready") else "")
    return path if path in _KNOWN else "other"


_KNOWN = frozenset({"/predict", "/invocations", "/feedback", "/health", "/ready", "/schema", "/metrics",
                    "/v2/health/live", "/v2/health/ready", "/docs", "/openapi.json"})


#: What a request can be refused for (4xx); anything else is a bug of the service (500).
REFUSED = (_Refused, RequestInvalid, LabcoatError)


def refusal(error: Exception) -> _Refused:
    """A refused request as its 4xx answer: bad body or rows (422), too large (413)."""
    if isinstance(error, _Refused):
        return error
    if isinstance(error, RequestInvalid):
        return _Refused(error.problems)
    if isinstance(error, LabcoatError):
        return _Refused([Problem("rows", str(error), kind="value_error")])
    raise error
