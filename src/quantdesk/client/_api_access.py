"""The routes of who calls: login, tokens, users, API keys; and the open health routes."""

from dataclasses import replace

from quantdesk.api.schemas.auth import ApiKeyOut, PrincipalOut, TokenPairOut, UserOut
from quantdesk.client._transport import (
    Call,
    get,
    model,
    nothing,
    path,
    post,
    public,
    text,
)
from quantdesk.client.models import ApiKeyCreated, Health, Page, Readiness
from quantdesk.domain.auth import Role

# auth ------------------------------------------------------------------------------------


def login(username: str, password: str) -> Call[TokenPairOut]:
    body = {"username": username, "password": password}
    return public(Call("POST", "/auth/login", model(TokenPairOut), json=body))


def refresh(refresh_token: str) -> Call[TokenPairOut]:
    body = {"refresh_token": refresh_token}
    return public(Call("POST", "/auth/refresh", model(TokenPairOut), json=body))


def logout(refresh_token: str) -> Call[None]:
    body = {"refresh_token": refresh_token}
    return Call("POST", "/auth/logout", nothing, json=body, refresh_on_401=False)


def me() -> Call[PrincipalOut]:
    """Who the client is authenticated as (user, role, token or API key)."""
    return get("/auth/me", PrincipalOut)


# users and API keys ------------------------------------------------------------------------


def users(*, limit: int = 50, offset: int = 0) -> Call[Page[UserOut]]:
    return get("/users", Page[UserOut], limit=limit, offset=offset)


def add_user(username: str, password: str, role: Role = Role.viewer) -> Call[UserOut]:
    return post("/users", UserOut, {"username": username, "password": password, "role": role})


def set_user_role(username: str, role: Role) -> Call[UserOut]:
    return Call("PUT", path("users", username, "role"), model(UserOut), json={"role": role.value})


def disable_user(username: str) -> Call[UserOut]:
    """Disable a user: its logins, tokens and keys stop working."""
    return post(path("users", username, "disable"), UserOut)


def enable_user(username: str) -> Call[UserOut]:
    return post(path("users", username, "enable"), UserOut)


def reset_user_password(username: str, password: str) -> Call[UserOut]:
    return post(path("users", username, "password"), UserOut, {"password": password})


def api_keys(*, limit: int = 50, offset: int = 0) -> Call[Page[ApiKeyOut]]:
    return get("/api-keys", Page[ApiKeyOut], limit=limit, offset=offset)


def create_api_key(
    name: str, role: Role = Role.viewer, *, expires_days: int | None = None
) -> Call[ApiKeyCreated]:
    """A new key for a machine: its secret is in the answer, and only there (never again)."""
    body = {"name": name, "role": role, "expires_days": expires_days}
    return post("/api-keys", ApiKeyCreated, body)


def revoke_api_key(key_id: str) -> Call[ApiKeyOut]:
    return Call("DELETE", path("api-keys", key_id), model(ApiKeyOut))


# health ----------------------------------------------------------------------------------


def health() -> Call[Health]:
    """Liveness: the process answers."""
    return public(get("/health", Health))


def ready() -> Call[Readiness]:
    """Each component's status and latency (``status`` "unready" while one fails: the
    service's 503 is this same answer)."""
    return replace(public(get("/ready", Readiness)), answers=frozenset({503}))


def metrics() -> Call[str]:
    """The Prometheus text (open only when the service says so; else authenticated)."""
    return Call("GET", "/metrics", text)
