"""Access over the app's WHOLE route table (every router module of ROUTER_MODULES, built as
``quantdesk serve`` builds it, with the real AuthService): each route declares exactly one
access; only health, readiness, login, refresh and the docs are open; every other route is
401 without credentials (or with a bad one) and 403 for each role outside its permission;
the lowest role that holds the permission is let past the access check.

A new route without ``allow(...)`` or ``public()`` fails here without anyone listing it."""

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

import quantdesk.api.routers as routers_package
from fakes import FakeBacktestRunner
from quantdesk.api.app import create_app
from quantdesk.api.config import ApiSettings
from quantdesk.api.deps import Access, route_access
from quantdesk.api.routers import ROUTER_MODULES
from quantdesk.bootstrap import Overrides, bootstrap
from quantdesk.domain.auth import ROLE_ORDER, Permission, Role, allows

V1 = "/api/v1"
OPEN = {
    ("GET", f"{V1}/health"),
    ("GET", f"{V1}/ready"),
    ("POST", f"{V1}/auth/login"),
    ("POST", f"{V1}/auth/refresh"),
}
DOCS = {f"{V1}/openapi.json", f"{V1}/docs", f"{V1}/docs/oauth2-redirect", f"{V1}/redoc"}
PASSWORD = "route-table password 1"


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    access: tuple[Access, ...]

    @property
    def url(self) -> str:
        """The path with every parameter filled (``x``): access is decided before the
        parameters are validated, so any value will do."""
        url = self.path
        while "{" in url:
            start = url.index("{")
            url = url[:start] + "x" + url[url.index("}", start) + 1 :]
        return url

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _code(answer: httpx.Response) -> str | None:
    """The problem code of an error answer (None for any other body)."""
    if not answer.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    code = answer.json().get("code")
    return code if isinstance(code, str) else None


def route_table(app: FastAPI) -> tuple[list[Entry], list[str]]:
    """(the API routes with their access, the other routes' paths: docs, WebSocket)."""
    entries, others = [], []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            others.append(str(context.path_format))
            continue
        access = tuple(route_access(context.dependant))
        for method in sorted((context.methods or set()) - {"HEAD"}):
            entries.append(Entry(method, str(context.path_format), access))
    return entries, others


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, list[Entry], list[str], dict[Role, str]]]:
    home: Path = tmp_path_factory.mktemp("routes") / "home"
    desk = bootstrap(home=home, overrides=Overrides(runner=FakeBacktestRunner()))
    app = create_app(desk, ApiSettings(uploads_dir=home / "uploads"))
    auth = desk.service.auth
    tokens = {}
    for role in Role:
        auth.add_user(f"user-{role.value}", role, actor="test", password=PASSWORD)
        tokens[role] = auth.login(f"user-{role.value}", PASSWORD, address="test").access_token
    entries, others = route_table(app)
    # no lifespan: no worker process is needed to decide access
    yield TestClient(app, raise_server_exceptions=False), entries, others, tokens


def test_every_router_module_is_mounted() -> None:
    present = {
        info.name for info in pkgutil.iter_modules(routers_package.__path__) if not info.ispkg
    }
    assert present <= set(ROUTER_MODULES), f"not in ROUTER_MODULES: {present - set(ROUTER_MODULES)}"
    for name in ROUTER_MODULES:
        assert callable(importlib.import_module(f"{routers_package.__name__}.{name}").build_router)


def test_every_route_declares_exactly_one_access(served: tuple) -> None:
    _, entries, others, _ = served
    undeclared = [str(e) for e in entries if len(e.access) != 1]
    assert not undeclared, f"routes without exactly one allow()/public(): {undeclared}"
    assert set(others) - DOCS <= {f"{V1}/ws"}, "a non-API route besides the docs and /ws"
    assert len(entries) > 20  # the table is the whole API, not a part of it


def test_only_health_readiness_login_refresh_are_open(served: tuple) -> None:
    _, entries, _, _ = served
    public = {(e.method, e.path) for e in entries if e.access == ("public",)}
    assert public == OPEN


def test_every_other_route_is_401_without_credentials(served: tuple) -> None:
    client, entries, _, _ = served
    wrong = []
    for entry in entries:
        if (entry.method, entry.path) in OPEN:
            continue
        for headers in ({}, {"Authorization": "Bearer qdk_not_a_key"}):
            answer = client.request(entry.method, entry.url, headers=headers)
            if answer.status_code != 401 or _code(answer) != "unauthenticated":
                wrong.append(f"{entry} {headers or 'no credentials'}: {answer.status_code}")
            elif answer.headers.get("www-authenticate") != "Bearer":
                wrong.append(f"{entry}: no WWW-Authenticate")
    assert not wrong, "\n".join(wrong)


def test_each_role_is_refused_outside_its_permissions(served: tuple) -> None:
    client, entries, _, tokens = served
    wrong = []
    checked = 0
    for entry in entries:
        (access,) = entry.access
        if access == "public":
            continue
        assert isinstance(access, Permission)
        for role in Role:
            if allows(role, access):
                continue
            checked += 1
            answer = client.request(
                entry.method, entry.url, headers={"Authorization": f"Bearer {tokens[role]}"}
            )
            # forbidden, not feature_disabled: the permission is checked before any flag
            if answer.status_code != 403 or _code(answer) != "forbidden":
                wrong.append(f"{entry} as {role.value}: {answer.status_code} {answer.text[:120]}")
    assert not wrong, "\n".join(wrong)
    assert checked > 30  # viewers alone are refused every write


def test_the_lowest_role_with_the_permission_gets_past_the_check(served: tuple) -> None:
    client, entries, _, tokens = served
    wrong = []
    for entry in entries:
        (access,) = entry.access
        if access == "public":
            continue
        assert isinstance(access, Permission)
        lowest = next(role for role in ROLE_ORDER if allows(role, access))
        answer = client.request(
            entry.method, entry.url, headers={"Authorization": f"Bearer {tokens[lowest]}"}
        )
        code = _code(answer)
        if answer.status_code == 401 or code == "forbidden":
            wrong.append(f"{entry} as {lowest.value}: {answer.status_code} {code}")
    assert not wrong, "\n".join(wrong)
