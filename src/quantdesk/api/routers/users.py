"""``/users`` and ``/api-keys``: the admin's management of who may call the service.

Every route needs ``users_manage`` (admins). Passwords are set, never shown; an API key's
secret is in its creation answer only.
"""

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, status

from quantdesk.api.deps import Paged, allow, parts
from quantdesk.api.pagination import Page, PageParams, page_of
from quantdesk.api.schemas.auth import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    PasswordIn,
    RoleIn,
    UserIn,
    UserOut,
)
from quantdesk.domain.auth import Permission, Principal, Role
from quantdesk.services.service_parts import ServiceParts

T = TypeVar("T")
Parts = Annotated[ServiceParts, Depends(parts)]
Admin = Annotated[Principal, allow(Permission.users_manage)]
Username = Annotated[str, Path(min_length=1, max_length=64)]
KeyId = Annotated[str, Path(min_length=1, max_length=64, description="16 hex digits")]


def build_router() -> APIRouter:
    router = APIRouter(tags=["users"])

    @router.get("/users", response_model=Page[UserOut])
    def list_users(
        service: Parts,
        _: Admin,
        window: Paged,
        role: Role | None = None,
        disabled: bool | None = None,
    ) -> Page[UserOut]:
        """Users by name, filtered by role or disabled state."""
        found = [
            UserOut.of(u)
            for u in service.auth.users()
            if (role is None or u.role is role) and (disabled is None or u.disabled is disabled)
        ]
        return _window(found, window)

    @router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
    def add_user(body: UserIn, service: Parts, caller: Admin) -> UserOut:
        """A new user with the password given (409 when the name is taken)."""
        user, _ = service.auth.add_user(
            body.username, body.role, actor=caller.username, password=body.password
        )
        return UserOut.of(user)

    @router.post("/users/{username}/disable", response_model=UserOut)
    def disable_user(username: Username, service: Parts, caller: Admin) -> UserOut:
        """Lock a user out at once: its tokens, refresh tokens and API keys stop working
        (409 for the last enabled admin)."""
        return UserOut.of(service.auth.disable(username, actor=caller.username))

    @router.post("/users/{username}/enable", response_model=UserOut)
    def enable_user(username: Username, service: Parts, caller: Admin) -> UserOut:
        """Let a disabled user log in again (its old sessions stay revoked)."""
        return UserOut.of(service.auth.enable(username, actor=caller.username))

    @router.put("/users/{username}/role", response_model=UserOut)
    def set_user_role(username: Username, body: RoleIn, service: Parts, caller: Admin) -> UserOut:
        """Change a user's role; it applies from the user's next request."""
        return UserOut.of(service.auth.set_role(username, body.role, actor=caller.username))

    @router.post("/users/{username}/password", response_model=UserOut)
    def reset_user_password(
        username: Username, body: PasswordIn, service: Parts, caller: Admin
    ) -> UserOut:
        """Set a new password; the user's sessions are revoked (it logs in again)."""
        service.auth.reset_password(username, actor=caller.username, password=body.password)
        return UserOut.of(service.auth.user(username))

    @router.get("/api-keys", response_model=Page[ApiKeyOut])
    def list_api_keys(
        service: Parts,
        _: Admin,
        window: Paged,
        role: Role | None = None,
        revoked: bool | None = None,
    ) -> Page[ApiKeyOut]:
        """API keys, oldest first (never their secrets), filtered by role or revocation."""
        found = [
            ApiKeyOut.of(k)
            for k in service.auth.api_keys()
            if (role is None or k.role is role)
            and (revoked is None or (k.revoked_ns is not None) is revoked)
        ]
        return _window(found, window)

    @router.post("/api-keys", response_model=ApiKeyCreatedOut, status_code=status.HTTP_201_CREATED)
    def create_api_key(body: ApiKeyIn, service: Parts, caller: Admin) -> ApiKeyCreatedOut:
        """A key for a machine, acting for the caller with ``role`` at most the caller's; the
        key is in this answer only."""
        record, secret = service.auth.create_api_key(
            body.name, body.role, actor=caller.username, expires_days=body.expires_days
        )
        return ApiKeyCreatedOut(key=ApiKeyOut.of(record), secret=secret)

    @router.delete("/api-keys/{key_id}", response_model=ApiKeyOut)
    def revoke_api_key(key_id: KeyId, service: Parts, caller: Admin) -> ApiKeyOut:
        """Revoke a key: it stops working at once (repeating it changes nothing)."""
        return ApiKeyOut.of(service.auth.revoke_api_key(key_id, actor=caller.username))

    return router


def _window(items: Sequence[T], window: PageParams) -> Page[T]:
    return page_of(items[window.offset : window.offset + window.limit], len(items), window)
