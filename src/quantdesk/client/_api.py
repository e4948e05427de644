"""Every route of the service as a ``Call``: its method, path, body and answer type, written
once for the sync and the async client (each only executes them)."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeVar

from quantdesk.client import models
from quantdesk.client._transport import Call, clean_params, content, model, nothing, path, text
from quantdesk.domain.auth import Principal, TokenPair

T = TypeVar("T")


def _public(call: Call[T]) -> Call[T]:
    """A call that sends no credentials (login, health): a 401 there is the answer itself."""
    return replace(call, authenticated=False, refresh_on_401=False)


# auth ------------------------------------------------------------------------------------


def login(username: str, password: str) -> Call[TokenPair]:
    return _public(
        Call(
            "POST",
            "/auth/login",
            model(TokenPair),
            json={"username": username, "password": password},
        )
    )


def refresh(refresh_token: str) -> Call[TokenPair]:
    return _public(
        Call("POST", "/auth/refresh", model(TokenPair), json={"refresh_token": refresh_token})
    )


def logout(refresh_token: str) -> Call[None]:
    return Call(
        "POST", "/auth/logout", nothing, json={"refresh_token": refresh_token}, refresh_on_401=False
    )


def me() -> Call[Principal]:
    return Call("GET", "/auth/me", model(Principal))


# health ----------------------------------------------------------------------------------


def health() -> Call[dict[str, Any]]:
    return _public(Call("GET", "/health", model(dict[str, Any])))


def ready() -> Call[models.Readiness]:
    """``/ready`` answers 503 with the same body when a component fails; the client raises
    then (QuantdeskApiError, the body's components in its data)."""
    return _public(Call("GET", "/ready", model(models.Readiness)))


def metrics() -> Call[str]:
    return Call("GET", "/metrics", text)


def _query(**params: Any) -> Mapping[str, Any]:
    return clean_params(params)


__all__ = ["content", "path"]
