"""Liveness, readiness and metrics: what a load balancer, an orchestrator and a scraper ask.

``/health`` answers while the process serves; ``/ready`` checks each component the service
needs (database, job workers, and what the composition root adds: catalog, engine) and is
503 while one fails; ``/metrics`` is the Prometheus text of the app's own registry.
"""

import contextvars
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

import quantdesk
from quantdesk.api.config import ApiSettings, ReadinessCheck
from quantdesk.api.deps import allow, platform, public
from quantdesk.domain.auth import Permission
from quantdesk.services.platform import Platform

log = logging.getLogger(__name__)


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class Component(BaseModel):
    name: str
    ok: bool
    latency_ms: float
    detail: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "unready"]
    components: list[Component]


def build_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", dependencies=[public()])
    def health() -> Health:
        """Liveness: the process answers."""
        return Health(version=quantdesk.__version__)

    @router.get(
        "/ready",
        dependencies=[public()],
        responses={503: {"model": Readiness, "description": "a component fails"}},
    )
    def ready(request: Request, desk: Annotated[Platform, Depends(platform)]) -> JSONResponse:
        """Readiness: each component's status and latency; 503 while any fails."""
        settings: ApiSettings = request.app.state.settings
        checks: list[tuple[str, ReadinessCheck]] = [
            ("database", lambda: _database(desk)),
            ("job_workers", lambda: _job_workers(desk)),
            *settings.readiness,
        ]
        components = _run_checks(checks, settings.readiness_timeout_seconds)
        healthy = all(component.ok for component in components)
        body = Readiness(status="ready" if healthy else "unready", components=components)
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if healthy else 503)

    return router


def build_metrics_router(*, public_metrics: bool) -> APIRouter:
    """``/metrics``: open when the settings say so (a scraper on a trusted network), else it
    needs a token like every route."""
    access = public() if public_metrics else allow(Permission.read)
    router = APIRouter(tags=["health"])

    @router.get(
        "/metrics",
        dependencies=[access],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def metrics(request: Request) -> Response:
        """Prometheus text format: request latency, jobs, signals, WebSocket clients."""
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _database(desk: Platform) -> None:
    desk.database.revision()


def _job_workers(desk: Platform) -> None:
    alive, why = desk.service.jobs.healthy()
    if not alive:
        raise RuntimeError(why)


def _run_checks(checks: list[tuple[str, ReadinessCheck]], timeout_s: float) -> list[Component]:
    """All checks at once, each bounded by ``timeout_s`` (a database that never answers
    makes its component fail, not the probe hang); a stuck check's thread is left to end."""
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="quantdesk-ready")
    try:
        started = time.perf_counter()
        futures = [  # each in a copy of this context: its log lines keep the correlation id
            (name, pool.submit(contextvars.copy_context().run, _checked, name, check))
            for name, check in checks
        ]
        components = []
        for name, future in futures:
            left = max(0.0, timeout_s - (time.perf_counter() - started))
            try:
                components.append(future.result(timeout=left))
            except FutureTimeout:
                log.warning("readiness: %s gave no answer within %.1f s", name, timeout_s)
                components.append(
                    Component(name=name, ok=False, latency_ms=timeout_s * 1000, detail="timeout")
                )
        return components
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _checked(name: str, check: ReadinessCheck) -> Component:
    """Run one check; a failure is logged with its cause, the public answer says only that
    it failed (a readiness probe is open: no internals in it)."""
    started = time.perf_counter()
    detail: str | None = None
    try:
        check()
    except Exception as error:
        log.warning("readiness: %s fails: %s", name, error, extra={"component": name})
        detail = "unavailable"
    latency = round((time.perf_counter() - started) * 1000, 3)
    return Component(name=name, ok=detail is None, latency_ms=latency, detail=detail)
