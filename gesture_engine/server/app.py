"""The HTTP decision service's application: endpoints, limits, auth, metrics, access logs and reload.

Deciding takes microseconds, so the hot path stays thin: the body is read by hand (size, time and depth
limits first), parsed by the engine's own complaint reader and answered with the decision's own JSON
bytes; no framework model touches it, and ``POST /v1/decisions`` does not even pass through FastAPI's
routing, parameter and exception layers (:meth:`AccessLog.decisions`). FastAPI is there for the other
endpoints, the OpenAPI document (whose schemas are the project's JSON Schemas) and ``/docs``.

The policy and mappings in use are one immutable snapshot (:class:`Loaded`) that a reload replaces in a
single assignment, after the new one loaded and checked; a request reads the snapshot once, so it is
answered wholly by the old or wholly by the new policy, and its fingerprint is in the decision and in the
``X-Policy-Fingerprint`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gesture_engine import __version__
from gesture_engine.complaint import parse_complaint_json
from gesture_engine.decision_log import DecisionLog
from gesture_engine.errors import ComplaintError, LedgerError, PolicyError
from gesture_engine.jsonschemas import schema_text
from gesture_engine.mapping import SHIPPED, Mapping, MappingError, load_mapping
from gesture_engine.policy import Policy, load_policy
from gesture_engine.resources import default_policy_path
from gesture_engine.server.auth import Caller, Tokens

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("gesture.serve")
access = logging.getLogger("gesture.access")

MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 32
"""Nesting a complaint or helpdesk payload may have; a Zendesk ticket has about 6 levels."""
_BRACKETS = re.compile(rb'[\[\]{}]|"(?:[^"\\]|\\.)*"')
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ANONYMOUS = Caller("anonymous", frozenset(("decide", "approve", "issue")))


@dataclass(frozen=True)
class ServerConfig:
    """What ``gesture serve`` was asked for. ``tokens`` None with ``insecure_no_auth`` serves without auth."""

    policy_path: str | None = None
    mapping_paths: tuple[str, ...] = ()
    ledger_url: str | None = None
    tokens: Tokens | None = None
    insecure_no_auth: bool = False
    max_body_bytes: int = MAX_BODY_BYTES
    max_depth: int = MAX_JSON_DEPTH
    request_timeout: float = 10.0
    log_path: str | None = None
    metrics_dir: str | None = None
    """With several workers: the directory (made and removed by ``serve``) where each keeps its metrics, so that
    ``/metrics``, whichever worker answers it, counts every worker's requests."""
    max_header_bytes: int = 16 * 1024
    watch: bool = False
    watch_interval: float = 1.0


@dataclass(frozen=True)
class Loaded:
    """The policy and mappings one request is answered with: replaced whole on reload, never changed."""

    policy: Policy
    mappings: dict[str, Mapping]


def load_state(config: ServerConfig) -> Loaded:
    """Load the policy and every mapping, each mapping checked against the policy; PolicyError or MappingError."""
    policy = load_policy(config.policy_path)
    mappings: dict[str, Mapping] = {}
    problems = []
    for source in (*SHIPPED, *config.mapping_paths):
        mapping = load_mapping(source)
        if source in SHIPPED and config.policy_path is not None and mapping.check(policy):
            continue  # a shipped mapping is for the default policy's facts; leave it out for a policy it does not fit
        problems.extend(mapping.check(policy))
        mappings[mapping.name] = mapping
    if problems:
        raise MappingError(problems)
    return Loaded(policy, mappings)


class ApiError(Exception):
    """An answer other than 2xx: status, a stable ``error`` code, a message, and problems when there are some."""

    def __init__(self, status: int, code: str, message: str, problems: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.problems, self.headers = status, code, message, problems, headers

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.problems is not None:
            body["problems"] = self.problems
        return Response(json.dumps(body, ensure_ascii=False, default=str) + "\n", self.status, self.headers, "application/json")


def _problems(error: ComplaintError) -> list[dict[str, Any]]:
    return [{"field": p.field, "code": p.code, "message": p.message} for p in error.problems]


def complaint_error(error: ComplaintError) -> ApiError:
    """422 with every problem; 400 when the body was not JSON at all."""
    if all(p.code in ("invalid_json", "not_utf8") for p in error.problems):
        return ApiError(400, "invalid_json", "the body is not valid JSON", _problems(error))
    return ApiError(422, "invalid_complaint", f"the complaint has {len(error.problems)} problem(s)", _problems(error))


LEDGER_STATUS = {"unknown_reservation": 404, "already_issued": 409, "reservation_closed": 409, "complaint_id_reused": 409,
                 "already_imported": 409, "unreachable": 503, "unavailable": 503}
"""HTTP status of a LedgerError by its code; any other refusal is 422."""


def ledger_error(error: LedgerError) -> ApiError:
    record = error.to_dict()
    return ApiError(LEDGER_STATUS.get(error.code, 422), error.code, error.message,
                    [{"field": "reservation_id", "code": error.code, "message": error.message}] if "reservation_id" in record else None)


def too_deep(body: bytes, limit: int) -> bool:
    """Whether JSON ``body`` nests deeper than ``limit`` (brackets inside strings skipped); cheap for flat bodies."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _BRACKETS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


@dataclass
class Metrics:
    """The service's Prometheus metrics, in a registry of its own; with ``directory``, in prometheus_client's
    multiprocess mode: this process's values go to files there, and a scrape adds up every process's files."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    directory: str | None = None

    def __post_init__(self) -> None:
        if self.directory is not None:  # process-wide, as prometheus_client's multiprocess mode is
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = self.directory
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        r = self.registry
        self.decisions = Counter("gesture_decisions", "Decisions made, by action and rule.", ["action", "rule"], registry=r)
        self.latency = Histogram("gesture_request_duration_seconds", "Time from request to response, by endpoint.", ["endpoint"],
                                 buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10), registry=r)
        self.errors = Counter("gesture_errors", "Requests answered with an error, by kind.", ["kind"], registry=r)
        self.reloads = Counter("gesture_policy_reloads", "Policy reloads, by result (loaded, refused).", ["result"], registry=r)
        self.policy = Gauge("gesture_policy_info", "The policy in use: 1 (0 for one a reload replaced).", ["name", "version", "fingerprint"],
                            multiprocess_mode="livemax", registry=r)  # an info metric, which multiprocess mode has not

    def show(self, policy: Policy, old: Policy | None = None) -> None:
        if old is not None and old.fingerprint != policy.fingerprint:
            self.policy.labels(old.name, old.version, old.fingerprint).set(0)
        self.policy.labels(policy.name, policy.version, policy.fingerprint).set(1)

    def exposition(self) -> bytes:
        """The text a scrape gets: this process's metrics, or with ``directory`` every worker's, added up."""
        if self.directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, self.directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


class Service:
    """The state behind the endpoints: the loaded snapshot, the ledger, the decision log, metrics."""

    def __init__(self, config: ServerConfig, loaded: Loaded | None = None) -> None:
        self.config = config
        self.loaded = loaded if loaded is not None else load_state(config)
        self.metrics = Metrics(directory=config.metrics_dir)
        self.metrics.show(self.loaded.policy)
        self.ledger: Any = None
        if config.ledger_url is not None:
            from gesture_engine.ledger import Ledger

            self.ledger = Ledger.open(config.ledger_url)
        self.decision_log = DecisionLog(config.log_path) if config.log_path else None
        self._reloading = asyncio.Lock()
        self.on_reload: Callable[[], None] = lambda: None

    async def reload(self, reason: str) -> bool:
        """Load the policy and mappings again; swap them in only if they load and fit, else keep serving the old."""
        async with self._reloading:
            try:
                fresh = await run_in_threadpool(load_state, self.config)
            except (PolicyError, MappingError) as error:
                self.metrics.reloads.labels("refused").inc()
                log.error(json.dumps({"event": "reload_refused", "reason": reason, "kept": self.loaded.policy.fingerprint,
                                      "problems": [str(p) for p in error.problems]}))
                return False
            old = self.loaded.policy
            self.loaded = fresh  # one assignment: a request sees the old snapshot or the new, never a mix
            self.metrics.show(fresh.policy, old)
            self.metrics.reloads.labels("loaded").inc()
            self.on_reload()
            settle()
            log.warning(json.dumps({"event": "reloaded", "reason": reason, "from": old.fingerprint, "to": fresh.policy.fingerprint}))
            return True

    def watched_files(self) -> list[Path]:
        """The policy's and mappings' files, whose changes ``--watch`` reloads on."""
        source = Path(self.config.policy_path) if self.config.policy_path else default_policy_path()
        files = sorted(source.glob("*.y*ml")) if source.is_dir() else [source]
        return files + [Path(p) for p in self.config.mapping_paths]

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
        if self.decision_log is not None:
            self.decision_log.close()

    # -- requests ---------------------------------------------------------------------------------
    def caller(self, request: Request, scope: str) -> Caller:
        """Who is asking, if they may: 401 without a known bearer token, 403 without the scope."""
        tokens = self.config.tokens
        if tokens is None:
            return ANONYMOUS
        header = request.headers.get("authorization", "")
        kind, _, presented = header.partition(" ")
        found = tokens.caller(presented.strip()) if kind.lower() == "bearer" and presented.strip() else None
        if found is None:
            raise ApiError(401, "unauthorized", "a valid bearer token is required", headers={"WWW-Authenticate": 'Bearer realm="gesture"'})
        if scope not in found.scopes:
            raise ApiError(403, "forbidden", f"this token lacks the {scope!r} scope")
        return found

    async def body(self, request: Request, required: bool = True) -> Any:
        """The request's JSON body, parsed by the complaint reader (exact decimals, no NaN, no repeated keys)."""
        limit = self.config.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise ApiError(413, "too_large", f"the body is larger than {limit} bytes")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            if not required and length in (None, "0"):
                return {}
            raise ApiError(415, "unsupported_media_type", "send the body as application/json")
        chunks: list[bytes] = []
        size = 0

        try:
            async with asyncio.timeout(self.config.request_timeout):  # a deadline on this task, not a task of its own
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(413, "too_large", f"the body is larger than {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(408, "timeout", f"the body did not arrive within {self.config.request_timeout:g}s") from None
        data = b"".join(chunks)
        if not data and not required:
            return {}
        if too_deep(data, self.config.max_depth):
            raise ApiError(400, "too_deep", f"the JSON nests deeper than {self.config.max_depth} levels")
        try:
            return parse_complaint_json(data, "body")
        except ComplaintError as error:
            raise complaint_error(error) from None

    def complaint(self, loaded: Loaded, request: Request, payload: Any) -> Any:
        """The complaint: the body itself, or with ``?mapping=NAME`` the helpdesk payload through that mapping."""
        name = request.query_params.get("mapping")
        if name is None:
            return payload
        mapping = loaded.mappings.get(name)
        if mapping is None:
            known = ", ".join(sorted(loaded.mappings)) or "none"
            raise ApiError(400, "unknown_mapping", f"no mapping named {name!r} (loaded: {known})")
        try:
            return mapping.apply(payload)
        except ComplaintError as error:
            raise complaint_error(error) from None

    async def decisions(self, request: Request) -> Response:
        """``POST /v1/decisions``: the decision's bytes (with a ledger, and its reservation), or an ApiError."""
        caller = self.caller(request, "decide")
        params = request.query_params
        redecide = flag(params, "redecide")
        loaded = self.loaded
        complaint = self.complaint(loaded, request, await self.body(request))
        policy = loaded.policy
        try:
            if self.ledger is None:
                decision = policy.decide(complaint)
                body = decision.model_dump_json(indent=2) + "\n"
            else:
                decision, reservation = await run_in_threadpool(self.ledger.decide, policy, complaint, team=params.get("team"),
                                                                actor=caller.name, redecide=redecide)
                body = json.dumps({"decision": json.loads(decision.model_dump_json()), "reservation": reservation.to_dict()}, indent=2) + "\n"
        except ComplaintError as error:
            raise complaint_error(error) from None
        except LedgerError as error:
            raise ledger_error(error) from None
        if self.decision_log is not None:
            self.decision_log.append(complaint, decision)
        self.metrics.decisions.labels(decision.action, decision.rule).inc()
        return Response(body, 200, {"X-Policy-Fingerprint": policy.fingerprint}, "application/json")


_TRUE, _FALSE = frozenset(("1", "t", "true", "y", "yes", "on")), frozenset(("0", "f", "false", "n", "no", "off"))


def flag(params: Any, name: str) -> bool:
    """A boolean query parameter as FastAPI reads one (``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``,
    any case); anything else is our 422."""
    text = params.get(name)
    if text is None or text.lower() in _FALSE:
        return False
    if text.lower() in _TRUE:
        return True
    raise ApiError(422, "invalid_request", "the request has 1 problem(s)",
                   [{"field": f"query.{name}", "code": "invalid_parameter", "message": f"{text!r} is not valid here"}])


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", status, headers, "application/json")


def _policy_view(policy: Policy) -> dict[str, Any]:
    """What a helpdesk sidebar needs to build its form: each fact's type, values, bounds, required or default."""
    facts = []
    for fact in policy.facts.values():
        entry: dict[str, Any] = {"name": fact.name, "type": fact.type, "required": fact.required, "description": fact.description}
        if not fact.required:
            entry["default"] = str(fact.default) if isinstance(fact.default, Decimal) else fact.default
        if fact.values:
            entry["values"] = list(fact.values)
        if fact.minimum is not None:
            entry["min"] = str(fact.minimum)
        if fact.maximum is not None:
            entry["max"] = str(fact.maximum)
        if fact.type == "string":
            entry["max_length"] = fact.max_length
        facts.append(entry)
    return {"name": policy.name, "version": policy.version, "fingerprint": policy.fingerprint, "currency": policy.currency,
            "description": policy.description, "facts": facts, "derived": [d.fact.name for d in policy.derived]}


class AccessLog:
    """ASGI middleware: a request id (``X-Request-Id`` or made) on every response, one JSON access-log line per
    request (never headers, bodies or query strings: tokens and customer data stay out of logs), the latency
    histogram, and a JSON 500 instead of a traceback if anything escapes."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _REQUEST_ID.match(given) else os.urandom(16).hex()  # as random as uuid4().hex, cheaper
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = False
        app = self.app
        limit = self.service.config.max_header_bytes
        if sum(len(name) + len(value) for name, value in scope["headers"]) > limit:
            refusal = ApiError(431, "headers_too_large", f"the request's headers are larger than {limit} bytes")
            self.service.metrics.errors.labels(refusal.code).inc()
            app = refusal.response()
        hot = app is self.app and scope["path"] == "/v1/decisions" and scope["method"] == "POST"
        if hot:
            app = self.decisions

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await app(scope, receive, sending)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            self.service.metrics.errors.labels("internal").inc()
            if not started:
                response = ApiError(500, "internal", "internal error; the request id is in the server's log")
                await response.response()(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - start
            endpoint = "/v1/decisions" if hot else getattr(scope.get("route"), "path", "unmatched")
            self.service.metrics.latency.labels(endpoint).observe(elapsed)
            if access.isEnabledFor(logging.INFO):
                access.info(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "request_id": request_id,
                                        "method": scope["method"], "path": scope["path"][:200], "status": status,
                                        "ms": round(elapsed * 1000, 3), "client": (scope.get("client") or ("", 0))[0],
                                        "pid": os.getpid()}))

    async def decisions(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/decisions``, the hot path, answered here rather than through the framework's routing,
        parameter and exception layers, which cost several times the decision itself."""
        try:
            response = await self.service.decisions(Request(scope, receive))
        except ApiError as error:
            self.service.metrics.errors.labels(error.code).inc()
            response = error.response()
        await response(scope, receive, send)


def openapi_document(app: FastAPI, service: Service) -> dict[str, Any]:
    """FastAPI's document with the project's JSON Schemas as the request and response bodies' schemas:
    each schema's ``$defs`` become components, their ``$ref``s pointed there."""
    from fastapi.openapi.utils import get_openapi

    document = get_openapi(title="gesture-engine decision service", version=__version__, routes=app.routes,
                           description="What should we do for this unhappy customer? See docs/service.md.")
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, text in (("Complaint", schema_text("complaint", service.loaded.policy)), ("Decision", schema_text("decision"))):
        schema = json.loads(text.replace('"#/$defs/', '"#/components/schemas/'))
        schema.pop("$schema", None)
        components.update(schema.pop("$defs", {}))
        components[name] = schema
    components["Error"] = {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}}}
    document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document


def _body(schema: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


def _answers(ok: str | None, *statuses: int) -> dict[int | str, dict[str, Any]]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    words = {400: "Not JSON, too deep, or an unknown mapping", 401: "No valid bearer token", 403: "The token lacks the scope",
             404: "Unknown reservation", 408: "The body came too slowly", 409: "The reservation is closed or issued",
             413: "The body is too large", 415: "Not application/json", 422: "Every problem, with field, code and message",
             503: "The ledger is unreachable"}
    answers: dict[int | str, dict[str, Any]] = {status: {"description": words[status], **error} for status in statuses}
    if ok is not None:
        answers[200] = {"description": "OK", "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ok}"}}}}
    return answers


def create_app(config: ServerConfig, service: Service | None = None) -> AccessLog:
    """The application for ``config`` (loading its policy now: PolicyError or MappingError if it does not load)."""
    service = service if service is not None else Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[Any]] = set()

        def hup() -> None:
            task = loop.create_task(service.reload("SIGHUP"))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        with contextlib.suppress(RuntimeError, ValueError):  # not the main thread (the app run in a thread)
            loop.add_signal_handler(signal.SIGHUP, hup)
        watcher = loop.create_task(_watch(service)) if config.watch else None
        settle()
        log.info(json.dumps({"event": "worker_ready", "pid": os.getpid(), "policy": service.loaded.policy.fingerprint}))
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            service.close()

    app = FastAPI(title="gesture-engine decision service", version=__version__, docs_url="/docs", redoc_url=None,
                  openapi_url="/openapi.json", lifespan=lifespan)
    app.state.service = service
    service.on_reload = lambda: setattr(app, "openapi_schema", None)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app, service)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        service.metrics.errors.labels(error.code).inc()
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, error: RequestValidationError) -> Response:
        """A query or path parameter of the wrong type (``?redecide=maybe``): our 422, our words."""
        problems = [{"field": ".".join(str(part) for part in e.get("loc", ())), "code": "invalid_parameter",
                     "message": f"{e.get('input')!r} is not valid here"} for e in error.errors()]
        service.metrics.errors.labels("invalid_request").inc()
        return ApiError(422, "invalid_request", f"the request has {len(problems)} problem(s)", problems).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        service.metrics.errors.labels(code).inc()
        return ApiError(error.status_code, code, str(error.detail), headers=dict(error.headers or {})).response()

    secured: list[dict[str, list[str]]] = [{"bearer": []}]

    @app.post("/v1/decisions", openapi_extra=_body("Complaint"), responses=_answers("Decision", 400, 401, 403, 408, 413, 415, 422, 503),
              summary="Decide a complaint (or, with ?mapping=NAME, a helpdesk payload)", response_class=Response)
    async def decisions(request: Request, mapping: str | None = None, team: str | None = None, redecide: bool = False) -> Response:
        """The decision JSON, byte for byte what ``gesture decide --json`` prints. With a ledger, ``{decision, reservation}``
        as ``gesture decide --ledger --json`` prints it (``team`` and ``redecide`` as there; the token's name is the actor)."""
        return await service.decisions(request)  # (AccessLog answers this path itself; the route is here for OpenAPI)

    @app.post("/v1/explain", openapi_extra=_body("Complaint"), responses=_answers(None, 400, 401, 403, 408, 413, 415, 422),
              summary="Why a complaint gets its decision, rule by rule", response_class=Response)
    async def explain(request: Request, mapping: str | None = None) -> Response:
        """What ``gesture explain --json`` prints: facts, every rule and why it did or did not fire, budget, approval."""
        service.caller(request, "decide")
        loaded = service.loaded
        complaint = service.complaint(loaded, request, await service.body(request))
        try:
            why = loaded.policy.explain(complaint)
        except ComplaintError as error:
            raise complaint_error(error) from None
        return Response(why.model_dump_json(indent=2) + "\n", 200, {"X-Policy-Fingerprint": loaded.policy.fingerprint}, "application/json")

    @app.get("/v1/policy", responses=_answers(None, 401, 403), summary="The policy in use and its facts", response_class=Response)
    async def policy_view(request: Request) -> Response:
        """Name, version, fingerprint, currency, and each fact's type, allowed values, bounds, required or default."""
        service.caller(request, "decide")
        return _json(_policy_view(service.loaded.policy))

    @app.get("/v1/schemas/{name}", responses=_answers(None, 401, 403, 404), summary="A JSON Schema: complaint (for this policy) or decision",
             response_class=Response)
    async def schemas(request: Request, name: str) -> Response:
        service.caller(request, "decide")
        if name not in ("complaint", "decision"):
            raise ApiError(404, "not_found", "schemas: complaint, decision")
        return Response(schema_text(name, service.loaded.policy), 200, None, "application/schema+json")

    async def reservation(request: Request, scope: str, act: Callable[[Caller, Any], Any]) -> Response:
        caller = service.caller(request, scope)
        if service.ledger is None:
            raise ApiError(404, "no_ledger", "this service runs without a ledger (gesture serve --ledger URL)")
        body = await service.body(request, required=False)
        if not isinstance(body, dict):
            raise ApiError(422, "invalid_request", "the body must be a JSON object")
        try:
            done = await run_in_threadpool(act, caller, body)
        except LedgerError as error:
            raise ledger_error(error) from None
        return _json(done.to_dict())

    def text(body: dict[str, Any], key: str) -> str | None:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise LedgerError("bad_option", f"{key} must be a string")
        return value

    @app.post("/v1/reservations/{reservation_id}/approve", responses=_answers(None, 401, 403, 404, 409, 422, 503),
              summary="Approve a reservation: body {level, actor?}", response_class=Response)
    async def approve(request: Request, reservation_id: str) -> Response:
        return await reservation(request, "approve", lambda caller, body: service.ledger.approve(
            reservation_id, text(body, "actor") or caller.name, text(body, "level") or ""))

    @app.post("/v1/reservations/{reservation_id}/issue", responses=_answers(None, 401, 403, 404, 409, 422, 503),
              summary="Record goodwill given: body {amount?, currency?, actor?}", response_class=Response)
    async def issue(request: Request, reservation_id: str) -> Response:
        def act(caller: Caller, body: dict[str, Any]) -> Any:
            amount = body.get("amount")
            if (amount is not None and not isinstance(amount, (str, int, Decimal))) or isinstance(amount, bool):
                raise LedgerError("invalid_amount", "amount must be a decimal string or number", reservation_id=reservation_id)
            return service.ledger.issue(reservation_id, amount, currency=text(body, "currency"), actor=text(body, "actor") or caller.name)

        return await reservation(request, "issue", act)

    @app.post("/v1/reservations/{reservation_id}/release", responses=_answers(None, 401, 403, 404, 409, 503),
              summary="Give a reservation's budget back", response_class=Response)
    async def release(request: Request, reservation_id: str) -> Response:
        return await reservation(request, "approve", lambda caller, body: service.ledger.release(
            reservation_id, actor=text(body, "actor") or caller.name))

    @app.get("/v1/customers/{customer_id}/goodwill", responses=_answers(None, 401, 403, 404, 503),
             summary="A customer's reservations, what they hold in the policy's window, and the policy's history facts", response_class=Response)
    async def goodwill(request: Request, customer_id: str) -> Response:
        service.caller(request, "decide")
        if service.ledger is None:
            raise ApiError(404, "no_ledger", "this service runs without a ledger (gesture serve --ledger URL)")
        policy = service.loaded.policy
        days = policy.compiled.goodwill_window_days
        try:
            history = await run_in_threadpool(service.ledger.history, customer_id)
            held = await run_in_threadpool(service.ledger.held, customer_id, policy.currency, days) if days else None
            facts = await run_in_threadpool(service.ledger.history_facts, policy, customer_id) if policy.compiled.history else {}
        except LedgerError as error:
            raise ledger_error(error) from None
        return _json({"customer_id": customer_id, "currency": policy.currency, "window_days": days,
                      "held": None if held is None else str(held), "history": {name: str(value) for name, value in facts.items()},
                      "reservations": [r.to_dict() for r in history]})

    @app.get("/v1/teams/{team}/spend", responses=_answers(None, 401, 403, 404, 422, 503),
             summary="A team's goodwill held in a calendar month (?period=2026-03; default this month)", response_class=Response)
    async def spend(request: Request, team: str, period: str | None = None) -> Response:
        service.caller(request, "decide")
        if service.ledger is None:
            raise ApiError(404, "no_ledger", "this service runs without a ledger (gesture serve --ledger URL)")
        try:
            rows = await run_in_threadpool(service.ledger.spend, team, period)
        except LedgerError as error:
            raise ledger_error(error) from None
        return _json({"team": team, "period": period, "spend": [{"currency": c, "amount": str(a)} for _, c, a in rows]})

    @app.get("/healthz", summary="Alive", response_class=Response)
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz", summary="Policy loaded and ledger reachable", response_class=Response)
    async def readyz() -> Response:
        policy = service.loaded.policy
        report: dict[str, Any] = {"status": "ready", "policy": {"name": policy.name, "version": policy.version,
                                                                "fingerprint": policy.fingerprint}}
        if service.ledger is not None:
            try:
                await asyncio.wait_for(run_in_threadpool(service.ledger.held, "", policy.currency, 1), 2.0)
                report["ledger"] = "reachable"
            except (LedgerError, TimeoutError, OSError) as error:
                report.update(status="not_ready", ledger=f"unreachable: {type(error).__name__}")
                return _json(report, 503)
        return _json(report)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(service.metrics.exposition(), 200, None, CONTENT_TYPE_LATEST)

    for route in app.routes:  # every /v1 endpoint wants a bearer token
        if getattr(route, "path", "").startswith("/v1/"):
            route.openapi_extra = {**(getattr(route, "openapi_extra", None) or {}), "security": secured}  # type: ignore[attr-defined]
    return AccessLog(app, service)


def settle() -> None:
    """Move everything alive now (the policy, the framework) out of the garbage collector's sight: a full
    collection then looks at request garbage only, instead of stalling a request for ~100 ms every so often."""
    gc.collect()
    gc.freeze()


async def _watch(service: Service) -> None:
    """``--watch``: reload when a policy or mapping file changes (polling; no extra dependency)."""

    def stamp() -> tuple[tuple[str, float, int], ...]:
        out = []
        for path in service.watched_files():
            try:
                info = path.stat()
                out.append((os.fspath(path), info.st_mtime, info.st_size))
            except OSError:
                out.append((os.fspath(path), 0.0, -1))
        return tuple(out)

    seen = stamp()
    while True:
        await asyncio.sleep(service.config.watch_interval)
        now = await run_in_threadpool(stamp)
        if now != seen:
            seen = now
            await service.reload("watch")


__all__ = ["AccessLog", "ApiError", "Loaded", "ServerConfig", "Service", "create_app", "load_state"]
