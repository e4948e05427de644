"""The service's FastAPI application, built over a platform: no module-level app or settings.

``create_app`` mounts every module of ``ROUTER_MODULES`` (and the WebSocket router when it
exists) under ``/api/v1``, names operations ``{tag}-{function}``, installs the problem
handlers, the request middleware (correlation id, metrics, logs, audit, body bounds, CORS)
and the lifespan that starts and stops the job workers.
"""

import importlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from quantdesk.api import observability, problems
from quantdesk.api.config import ApiSettings
from quantdesk.api.routers import ROUTER_MODULES
from quantdesk.api.routers.health import build_metrics_router
from quantdesk.api.ws import build_ws_router
from quantdesk.services.platform import Platform

log = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v1"
_ROUTERS_PACKAGE: Final = "quantdesk.api.routers"


def operation_id(route: APIRoute) -> str:
    """``{tag}-{function name}``: stable ids a generated client can name methods after."""
    if not route.tags:
        raise RuntimeError(f"route {route.path} has no tag: its router must name one")
    return f"{route.tags[0]}-{route.name}"


def create_app(platform: Platform, settings: ApiSettings) -> FastAPI:
    """The application over ``platform`` (``platform.service`` holds auth, jobs, events...)."""
    app = FastAPI(
        title="quantdesk",
        version=_version(),
        description="Strategy registry, backtests, signals, risk and market data over HTTP.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=f"{API_PREFIX}/redoc",
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
        generate_unique_id_function=operation_id,
        lifespan=_lifespan,
    )
    app.state.platform = platform
    app.state.settings = settings
    problems.install(app)
    for router in routers(settings):
        app.include_router(router, prefix=API_PREFIX, responses=problems.PROBLEM_RESPONSES)
    app.include_router(build_ws_router(), prefix=API_PREFIX)
    observability.install(app, platform, settings)  # inner: audit, bodies; outer: requests
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,  # outermost: error answers carry the headers too
            allow_origins=list(settings.cors_origins),
            allow_credentials=False,  # Bearer tokens in a header, never cookies
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    return app


def routers(settings: ApiSettings) -> list[APIRouter]:
    """One router per module of ``ROUTER_MODULES``, then ``/metrics`` (its access by settings)."""
    built = []
    for name in ROUTER_MODULES:
        module = importlib.import_module(f"{_ROUTERS_PACKAGE}.{name}")
        build = getattr(module, "build_router", None)
        if not callable(build):
            raise RuntimeError(f"router module {module.__name__} has no build_router()")
        router = build()
        if not isinstance(router, APIRouter):
            raise RuntimeError(f"{module.__name__}.build_router() returned no APIRouter")
        built.append(router)
    built.append(build_metrics_router(public_metrics=settings.metrics_public))
    return built


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Jobs start with the app and stop with it; a first start creates the admin."""
    platform: Platform = app.state.platform
    parts = platform.service
    password = parts.auth.ensure_admin()
    if password is not None:
        announce_admin(password)
    parts.jobs.start()
    try:
        yield
    finally:
        parts.jobs.stop()
        parts.events.close()  # its channel's listener (Redis) and every client stream


def announce_admin(password: str) -> None:
    """The first admin's password, once, on the terminal: never through logging (log files
    and collectors keep what they see)."""
    sys.stderr.write(
        "\nquantdesk created the user 'admin' with the one-time password:\n\n"
        f"    {password}\n\n"
        "It is shown only now; change it after the first login.\n\n"
    )
    sys.stderr.flush()


def _version() -> str:
    from quantdesk import __version__

    return str(__version__)
