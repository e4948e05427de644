"""``/auth``, ``/users`` and ``/api-keys`` over HTTP, with the real AuthService on
SqlUserStore (SQLite and PostgreSQL); the other service parts are the HTTP layer's fakes."""

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.user_store import SqlUserStore
from quantdesk.domain.auth import Role
from quantdesk.services.auth import AuthService
from support.api_app import FakeParts, fake_app
from support.api_app import bearer as role_bearer
from support.auth import ManualClock, RecordingAuditLog, auth_service
from support.registry import postgres_database, sqlite_database

V1 = "/api/v1"
PASSWORD = "a long enough password"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def auth(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthService]:
    if request.param == "sqlite":
        database = Database(sqlite_database(tmp_path))
        yield auth_service(SqlUserStore(database), RecordingAuditLog(), ManualClock(), attempts=3)
        database.dispose()
        return
    with postgres_database() as url:
        database = Database(url)
        yield auth_service(SqlUserStore(database), RecordingAuditLog(), ManualClock(), attempts=3)
        database.dispose()


@pytest.fixture
def client(auth: AuthService, tmp_path: Path) -> Iterator[TestClient]:
    parts = dataclasses.replace(FakeParts(), auth=auth)  # type: ignore[arg-type]
    app, _ = fake_app(tmp_path / "home", parts)
    with TestClient(app) as client:  # the lifespan creates the admin
        yield client


def admin_password(auth: AuthService) -> str:
    auth.reset_password("admin", actor="test", password=PASSWORD)
    return PASSWORD


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    answer = client.post(f"{V1}/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, str] = answer.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_first_start_made_an_admin_who_logs_in(client: TestClient, auth: AuthService) -> None:
    assert [u.username for u in auth.users()] == ["admin"]
    pair = login(client, "admin", admin_password(auth))
    me = client.get(f"{V1}/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json() | {"user_id": "-"} == {
        "user_id": "-",
        "username": "admin",
        "role": "admin",
        "via": "token",
        "key_id": None,
    }


def test_a_failed_login_says_nothing_and_the_limit_answers_429(
    client: TestClient, auth: AuthService
) -> None:
    answers = [
        client.post(f"{V1}/auth/login", json={"username": name, "password": "wrong password"})
        for name in ("admin", "nobody", "admin")
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert answers[0].json()["detail"] == answers[1].json()["detail"]
    assert "wrong password" not in answers[0].text
    limited = client.post(f"{V1}/auth/login", json={"username": "admin", "password": PASSWORD})
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) == limited.json()["data"]["retry_after_s"] == 60


def test_refresh_rotates_and_reuse_is_refused(client: TestClient, auth: AuthService) -> None:
    pair = login(client, "admin", admin_password(auth))
    renewed = client.post(f"{V1}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200
    again = client.post(f"{V1}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401
    latest = renewed.json()["refresh_token"]
    assert client.post(f"{V1}/auth/refresh", json={"refresh_token": latest}).status_code == 401


def test_logout_ends_the_login(client: TestClient, auth: AuthService) -> None:
    pair = login(client, "admin", admin_password(auth))
    out = client.post(
        f"{V1}/auth/logout",
        json={"refresh_token": pair["refresh_token"]},
        headers=bearer(pair["access_token"]),
    )
    assert out.status_code == 204
    answer = client.post(f"{V1}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert answer.status_code == 401


def test_users_are_managed_by_admins_only(client: TestClient, auth: AuthService) -> None:
    admin = bearer(login(client, "admin", admin_password(auth))["access_token"])
    made = client.post(
        f"{V1}/users",
        json={"username": "rita", "password": PASSWORD, "role": "researcher"},
        headers=admin,
    )
    assert made.status_code == 201 and made.json()["role"] == "researcher"
    assert "password" not in made.text and PASSWORD not in made.text
    rita = bearer(login(client, "rita", PASSWORD)["access_token"])
    assert client.get(f"{V1}/users", headers=rita).status_code == 403
    assert client.get(f"{V1}/auth/me", headers=rita).json()["role"] == "researcher"
    listed = client.get(f"{V1}/users", params={"role": "researcher"}, headers=admin).json()
    assert [u["username"] for u in listed["items"]] == ["rita"] and listed["total"] == 1
    role = client.put(f"{V1}/users/rita/role", json={"role": "trader"}, headers=admin)
    assert role.status_code == 200 and role.json()["role"] == "trader"
    assert client.get(f"{V1}/auth/me", headers=rita).json()["role"] == "trader"
    reset = client.post(
        f"{V1}/users/rita/password", json={"password": "another long password"}, headers=admin
    )
    assert reset.status_code == 200
    disabled = client.post(f"{V1}/users/rita/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert client.get(f"{V1}/auth/me", headers=rita).status_code == 401
    again = client.post(
        f"{V1}/users", json={"username": "rita", "password": PASSWORD}, headers=admin
    )
    assert again.status_code == 409 and again.json()["code"] == "user_exists"
    assert client.post(f"{V1}/users/nobody/disable", headers=admin).status_code == 404
    last = client.post(f"{V1}/users/admin/disable", headers=admin)
    assert last.status_code == 409 and last.json()["code"] == "last_admin"


def test_a_short_password_is_refused_without_echo(client: TestClient, auth: AuthService) -> None:
    admin = bearer(login(client, "admin", admin_password(auth))["access_token"])
    refused = client.post(
        f"{V1}/users", json={"username": "sam", "password": "tiny-secret"}, headers=admin
    )
    assert refused.status_code == 422 and "tiny-secret" not in refused.text


def test_api_keys_work_once_created_and_stop_when_revoked(
    client: TestClient, auth: AuthService
) -> None:
    admin = bearer(login(client, "admin", admin_password(auth))["access_token"])
    made = client.post(
        f"{V1}/api-keys",
        json={"name": "feed", "role": "researcher", "expires_days": 30},
        headers=admin,
    )
    assert made.status_code == 201
    key, record = made.json()["secret"], made.json()["key"]
    assert key.startswith(f"qdk_{record['key_id']}_") and record["expires_ns"] is not None
    me = client.get(f"{V1}/auth/me", headers=bearer(key)).json()
    assert (me["via"], me["role"], me["key_id"]) == ("api_key", "researcher", record["key_id"])
    assert client.get(f"{V1}/users", headers=bearer(key)).status_code == 403
    listed = client.get(f"{V1}/api-keys", headers=admin)
    assert key.removeprefix(f"qdk_{record['key_id']}_") not in listed.text
    assert listed.json()["items"][0]["last_used_ns"] is not None
    gone = client.delete(f"{V1}/api-keys/{record['key_id']}", headers=admin)
    assert gone.status_code == 200 and gone.json()["revoked_ns"] is not None
    assert client.get(f"{V1}/auth/me", headers=bearer(key)).status_code == 401
    revoked = client.get(f"{V1}/api-keys", params={"revoked": True}, headers=admin).json()
    assert revoked["total"] == 1
    assert client.delete(f"{V1}/api-keys/0000000000000000", headers=admin).status_code == 404


def test_a_key_above_its_owner_is_refused(client: TestClient, auth: AuthService) -> None:
    auth.add_user("tom", Role.trader, actor="test", password=PASSWORD)
    auth.add_user("ann", Role.admin, actor="test", password=PASSWORD)
    ann = bearer(login(client, "ann", PASSWORD)["access_token"])
    assert (
        client.post(f"{V1}/api-keys", json={"name": "k", "role": "admin"}, headers=ann).status_code
        == 201
    )
    auth.set_role("ann", Role.viewer, actor="test")
    assert client.post(f"{V1}/api-keys", json={"name": "k"}, headers=ann).status_code == 403


def test_no_credentials_401(client: TestClient) -> None:
    for method, path in (("GET", "/auth/me"), ("GET", "/users"), ("GET", "/api-keys")):
        answer = client.request(method, f"{V1}{path}")
        assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"


ADMIN_ROUTES = [
    ("GET", "/users"),
    ("POST", "/users"),
    ("POST", "/users/x/disable"),
    ("POST", "/users/x/enable"),
    ("PUT", "/users/x/role"),
    ("POST", "/users/x/password"),
    ("GET", "/api-keys"),
    ("POST", "/api-keys"),
    ("DELETE", "/api-keys/0000000000000000"),
]


def test_every_user_and_key_route_is_admin_only(tmp_path: Path) -> None:
    app, _ = fake_app(tmp_path / "home")  # the HTTP layer's fake auth: one token per role
    with TestClient(app) as client:
        for role in (Role.viewer, Role.researcher, Role.trader):
            for method, route in ADMIN_ROUTES:
                answer = client.request(method, f"{V1}{route}", headers=role_bearer(role))
                assert answer.status_code == 403, (role, method, route)
                assert answer.json()["data"] == {"permission": "users_manage", "role": role.value}
        for method, route in [*ADMIN_ROUTES, ("GET", "/auth/me"), ("POST", "/auth/logout")]:
            assert client.request(method, f"{V1}{route}").status_code == 401, route
