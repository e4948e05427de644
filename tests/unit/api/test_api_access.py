"""Access, flags and pages as routes declare them: 401 without or with a bad credential, 403
outside the role's permissions or with the flag off, pages bounded; the markers found."""

from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from quantdesk.api.deps import Paged, allow, flag, public, route_access
from quantdesk.api.pagination import Page, PageParams, page_of
from quantdesk.domain.auth import Permission, Principal, Role
from support.api_app import bearer, fake_app


def _router() -> APIRouter:
    router = APIRouter(tags=["probe"])

    @router.get("/probe/me")
    def me(caller: Annotated[Principal, allow(Permission.read)]) -> dict[str, str]:
        return {"username": caller.username}

    @router.post("/probe/risky", dependencies=[allow(Permission.risk_control)])
    def risky() -> dict[str, bool]:
        return {"done": True}

    @router.get("/probe/gated", dependencies=[flag("strategy_export"), allow(Permission.read)])
    def gated() -> dict[str, bool]:
        return {"open": True}

    @router.post(
        "/probe/gated-risky",
        dependencies=[flag("live_trading"), allow(Permission.live_control)],
    )
    def gated_risky() -> dict[str, bool]:
        return {"open": True}

    @router.get("/probe/numbers", dependencies=[public()])
    def numbers(window: Paged) -> Page[int]:
        values = list(range(120))
        chosen = values[window.offset : window.offset + window.limit]
        return page_of(chosen, len(values), window)

    @router.get("/probe/undeclared")
    def undeclared(params: Annotated[PageParams, Depends()]) -> None:
        return None

    return router


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """One app for the read-only tests (building one costs about a second)."""
    app, _ = fake_app(tmp_path_factory.mktemp("access"), routers=[_router()])
    return TestClient(app)


def test_no_credentials_or_a_bad_one_is_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        response = client.get("/api/v1/probe/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_principal_reaches_the_route(client: TestClient) -> None:
    response = client.get("/api/v1/probe/me", headers=bearer(Role.viewer))
    assert response.json() == {"username": "viewer"}


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.viewer, 403), (Role.researcher, 403), (Role.trader, 200), (Role.admin, 200)],
)
def test_a_role_outside_the_permission_is_403(client: TestClient, role: Role, status: int) -> None:
    response = client.post("/api/v1/probe/risky", headers=bearer(role))
    assert response.status_code == status
    if status == 403:
        body = response.json()
        assert body["code"] == "forbidden"
        assert body["data"] == {"permission": "risk_control", "role": role.value}


def test_a_flag_off_is_403_feature_disabled(tmp_path: Path) -> None:
    app, parts = fake_app(tmp_path, routers=[_router()])
    with TestClient(app) as client:
        assert client.get("/api/v1/probe/gated", headers=bearer(Role.viewer)).status_code == 200
        parts.flags.off.add("strategy_export")
        response = client.get("/api/v1/probe/gated", headers=bearer(Role.viewer))
        assert response.status_code == 403
        assert response.json()["code"] == "feature_disabled"
        assert response.json()["data"] == {"flag": "strategy_export"}
        assert client.get("/api/v1/probe/gated").status_code == 401
        parts.flags.off.add("live_trading")
        # the flag is checked after the permission: a viewer hears it may not, whatever the flag
        refused = client.post("/api/v1/probe/gated-risky", headers=bearer(Role.viewer))
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        gated = client.post("/api/v1/probe/gated-risky", headers=bearer(Role.trader))
        assert (gated.status_code, gated.json()["code"]) == (403, "feature_disabled")
        parts.flags.off.clear()
        opened = client.post("/api/v1/probe/gated-risky", headers=bearer(Role.trader))
        assert opened.json() == {"open": True}


def test_pages_default_and_bounds(client: TestClient) -> None:
    first = client.get("/api/v1/probe/numbers").json()
    assert (first["limit"], first["offset"], first["total"], first["next_offset"]) == (
        50,
        0,
        120,
        50,
    )
    assert first["items"] == list(range(50))
    last = client.get("/api/v1/probe/numbers", params={"offset": 100, "limit": 50}).json()
    assert (last["items"], last["next_offset"]) == (list(range(100, 120)), None)
    beyond = client.get("/api/v1/probe/numbers", params={"offset": 500}).json()
    assert (beyond["items"], beyond["next_offset"]) == ([], None)
    assert client.get("/api/v1/probe/numbers", params={"limit": 500}).status_code == 200
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"offset": 10**9 + 1}):
        response = client.get("/api/v1/probe/numbers", params=params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"].startswith("query.")


def test_page_of_next_offset() -> None:
    assert page_of([1, 2], 5, PageParams(limit=2, offset=0)).next_offset == 2
    assert page_of([5], 5, PageParams(limit=2, offset=4)).next_offset is None
    assert page_of([], 0, PageParams()).next_offset is None


def test_route_access_finds_each_declaration(client: TestClient) -> None:
    found = {
        context.path_format: route_access(context.dependant)
        for context in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if hasattr(context, "dependant")
    }
    assert found["/api/v1/probe/me"] == [Permission.read]
    assert found["/api/v1/probe/risky"] == [Permission.risk_control]
    assert found["/api/v1/probe/gated"] == [Permission.read]
    assert found["/api/v1/probe/numbers"] == ["public"]
    assert found["/api/v1/probe/undeclared"] == []
    assert found["/api/v1/health"] == ["public"]
    assert found["/api/v1/metrics"] == [Permission.read]


def test_openapi_and_docs_under_api_v1(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operations = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    assert {"health-health", "health-ready", "health-metrics", "probe-me"} <= operations
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "Problem" in schema["components"]["schemas"]
    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/api/v1/redoc").status_code == 200
