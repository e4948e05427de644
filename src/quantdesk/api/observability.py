"""What the service tells its operators: correlation ids, JSON logs, metrics and the audit of
every state-changing request.

All of it is plain ASGI middleware (not ``BaseHTTPMiddleware``): the correlation id set here
is the context the route, its thread-pool calls and its error answer see.
"""

import hashlib
import json
import logging
import time
import traceback
from typing import Any, Final

import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quantdesk.api.config import ApiSettings
from quantdesk.api.deps import PRINCIPAL_STATE
from quantdesk.api.metrics import Metrics
from quantdesk.api.problems import internal_error_response, problem_response
from quantdesk.domain.auth import Principal
from quantdesk.domain.correlation import correlated, is_correlation_id
from quantdesk.services.platform import Platform

log = logging.getLogger("quantdesk.api")

REQUEST_ID_HEADER: Final = "x-request-id"
STATE_CHANGING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNMATCHED: Final = "unmatched"  # the route label of a path no route serves (bounded labels)
_SECRET_BODIES: Final = ("/api/v1/auth/",)  # passwords and tokens: no digest of them


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time (ns UTC), level, logger, message, correlation id, and
    the request fields an access line carries."""

    _EXTRA: Final = ("method", "route", "path", "status", "duration_ms", "component")

    def format(self, record: logging.LogRecord) -> str:
        from quantdesk.domain.correlation import current_correlation_id

        entry: dict[str, Any] = {
            "ts_ns": int(record.created * 1e9),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None) or current_correlation_id(),
        }
        for name in self._EXTRA:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """``logging.config.dictConfig`` of ``quantdesk serve`` (uvicorn applies it in each
    worker): JSON lines on stderr for every logger, uvicorn's access log off (ours names the
    route template and the correlation id)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLogFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def install(app: FastAPI, platform: Platform, settings: ApiSettings) -> None:
    """Add the middleware, innermost first: body bounds, audit, then the request observer."""
    metrics = Metrics(platform)
    app.state.metrics = metrics
    app.add_middleware(
        BodyLimits,
        json_max_bytes=settings.json_body_max_bytes,
        upload_max_bytes=settings.upload_max_bytes,
    )
    app.add_middleware(AuditRequests, platform=platform)
    app.add_middleware(ObserveRequests, metrics=metrics)


class ObserveRequests:
    """Correlation id in (a valid ``X-Request-ID``, else a new one) and out; latency by route
    template; one access log line; an unforeseen error becomes the 500 problem."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get(REQUEST_ID_HEADER)
        chosen = offered if offered is not None and is_correlation_id(offered) else None
        with correlated(chosen) as cid:
            scope.setdefault("state", {})["correlation_id"] = cid
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send, cid)

    async def _http(self, scope: Scope, receive: Receive, send: Send, cid: str) -> None:
        started = time.perf_counter()
        status = 500
        response_started = False

        async def observed(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = cid
            await send(message)

        try:
            await self.app(scope, receive, observed)
        except Exception:
            log.exception(
                "unexpected error in %s %s",
                scope["method"],
                scope["path"],
                extra={"correlation_id": cid},
            )
            if not response_started:
                response = internal_error_response(cid)
                response.headers[REQUEST_ID_HEADER] = cid
                await response(scope, receive, send)
                status = 500
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.requests.labels(route, scope["method"], str(status)).observe(elapsed)
            log.info(
                "%s %s %d",
                scope["method"],
                route,
                status,
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "correlation_id": cid,
                },
            )


def route_template(scope: Scope) -> str:
    """The matched route's full path template (``/api/v1/backtest/{run_id}``), never the raw
    path: metric labels stay bounded whatever clients send."""
    return _route_facts(scope)[0]


def operation_of(scope: Scope) -> str:
    """The matched route's operation id (``strategies-register``), the audit's action."""
    return _route_facts(scope)[1]


def _route_facts(scope: Scope) -> tuple[str, str]:
    """(template, operation id) of ``scope["route"]``: FastAPI hands the route as its router
    declared it (no prefix), so its mounted form is looked up in the app's route table."""
    route = scope.get("route")
    app = scope.get("app")
    if route is None or app is None:
        return UNMATCHED, f"http-{UNMATCHED}"
    index: dict[int, tuple[str, str]] | None = getattr(app.state, "route_index", None)
    if index is None or id(route) not in index:
        index = {
            id(context.original_route): (
                str(context.path_format),
                str(getattr(context, "unique_id", None) or f"http-{context.name}"),
            )
            for context in iter_route_contexts(app.routes)
        }
        app.state.route_index = index
    return index.get(id(route), (UNMATCHED, f"http-{UNMATCHED}"))


class AuditRequests:
    """One audit event per state-changing request (POST/PUT/PATCH/DELETE), written before
    the answer leaves: actor, action (the operation id), subject (the path), outcome (``ok``
    or the status) and the sha256 of the body as read (none for ``/auth/*`` bodies).

    A refused request without a proven caller (no or a bad credential, a failed or
    rate-limited login, no such route) is logged, not chained: else anyone could grow the
    audit log without limit. Every request of an authenticated caller is chained."""

    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        secret = scope["path"].startswith(_SECRET_BODIES)
        digest = hashlib.sha256()
        complete = False
        recorded = False

        async def hashed() -> Message:
            nonlocal complete
            message = await receive()
            if message["type"] == "http.request":
                digest.update(message.get("body", b""))
                complete = complete or not message.get("more_body", False)
            return message

        async def audited(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                body_digest = digest.hexdigest() if complete and not secret else None
                await self._record(scope, int(message["status"]), body_digest)
            await send(message)

        await self.app(scope, hashed, audited)

    async def _record(self, scope: Scope, status: int, body_digest: str | None) -> None:
        trail = self.platform.service.audit
        caller = scope.get("state", {}).get(PRINCIPAL_STATE)
        action = operation_of(scope)
        if caller is None and status >= 400:
            log.warning(
                "refused anonymous %s %s: %d",
                scope["method"],
                scope["path"][:200],
                status,
                extra={"route": route_template(scope), "status": status},
            )
            return
        event = {
            "actor": actor_of(caller),
            "action": action,
            "subject": scope["path"][:200],
            "outcome": "ok" if status < 400 else str(status),
            "payload_digest": body_digest,
            "correlation_id": scope.get("state", {}).get("correlation_id"),
        }
        try:
            await anyio.to_thread.run_sync(lambda: trail.record(**event))
        except Exception:  # the change is made; a failed audit write is an operator's alarm
            log.exception("audit: the event of %s %s was not written", action, event["subject"])


def actor_of(caller: object) -> str:
    if not isinstance(caller, Principal):
        return "anonymous"
    if caller.via == "api_key" and caller.key_id is not None:
        return f"{caller.username} (key {caller.key_id})"
    return caller.username


class BodyLimits:
    """Request bodies bounded: uploads (multipart) by ``upload_max_bytes``, everything else
    (JSON) by ``json_max_bytes``; past it, a 413 problem (starlette's counter does the
    counting)."""

    def __init__(self, app: ASGIApp, json_max_bytes: int, upload_max_bytes: int) -> None:
        self.app = app
        self._json = RequestBodyLimitMiddleware(app, json_max_bytes)
        self._upload = RequestBodyLimitMiddleware(app, upload_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        upload = headers.get("content-type", "").startswith("multipart/form-data")
        limited = self._upload if upload else self._json
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limited.max_body_size:
            # refused before reading (starlette would answer this case in plain text)
            response = problem_response(
                413,
                "payload_too_large",
                f"the request body is larger than {limited.max_body_size} bytes",
                data={"max_bytes": limited.max_body_size},
            )
            await response(scope, receive, send)
            return
        await limited(scope, receive, send)
