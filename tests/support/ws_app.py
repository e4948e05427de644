"""TESTS ONLY: the /ws router alone over fake service parts with a real event hub."""

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from quantdesk.api.config import ApiSettings
from quantdesk.api.ws import build_ws_router
from quantdesk.services.events import EventHub
from support.api_app import FakeParts, fake_desk


def ws_app(home: Path, hub: EventHub, *, auth_timeout_s: float = 0.3, **settings: Any) -> FastAPI:
    """An app serving ``/api/v1/ws`` from ``hub``; one token per role (``support.api_app``)."""
    app = FastAPI()
    app.state.platform = fake_desk(home, FakeParts(events=hub))  # type: ignore[arg-type]
    app.state.settings = ApiSettings(**settings)
    app.include_router(build_ws_router(auth_timeout_seconds=auth_timeout_s), prefix="/api/v1")
    return app
