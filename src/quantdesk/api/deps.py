"""What a route declares it needs: who may call it, which flag gates it, the platform, a page.

Every route declares exactly one of ``allow(permission)`` or ``public()`` (as a parameter
default or in ``dependencies=[...]``); each leaves a marker on its dependency function that
``route_access`` finds, so a test walking the app's route table
(``fastapi.routing.iter_route_contexts(app.routes)``) catches a route that forgot.
"""

from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from quantdesk.api.pagination import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_OFFSET_MAX, PageParams
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.correlation import current_correlation_id, new_correlation_id
from quantdesk.domain.errors import AuthenticationError, PermissionDeniedError
from quantdesk.services.platform import Platform
from quantdesk.services.service_parts import ServiceParts

ACCESS_MARK: Final = "quantdesk_access"
"""Attribute on a dependency function: a ``Permission`` (``allow``) or ``"public"``."""
PRINCIPAL_STATE: Final = "principal"
"""``request.state`` key of the authenticated caller (the audit middleware reads it)."""

Access = Permission | Literal["public"]

_bearer = HTTPBearer(auto_error=False, description="a JWT access token or an API key (qdk_...)")


async def platform(request: Request) -> Platform:
    """The platform ``create_app`` was built over.

    The dependencies that only read the request are ``async``: a plain ``def`` would cost
    each request a trip through the thread pool per dependency."""
    built: Platform = request.app.state.platform
    return built


async def parts(request: Request) -> ServiceParts:
    """The service's parts (auth, jobs, events, flags, audit...), built on first use."""
    return _parts(request)


def _parts(request: Request) -> ServiceParts:
    built: Platform = request.app.state.platform
    return built.service


async def correlation_id(request: Request) -> str:
    """The request's correlation id (set by the request middleware; a fresh one otherwise)."""
    value = getattr(request.state, "correlation_id", None) or current_correlation_id()
    return value if value is not None else new_correlation_id()


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller proved by its Bearer credential (JWT access token or API key); 401 without
    one or with a bad one. Cached per request, so ``allow`` and ``flag`` share it."""
    if credentials is None or not credentials.credentials:
        raise AuthenticationError("credentials required: send Authorization: Bearer <token>")
    caller = _parts(request).auth.authenticate(credentials.credentials)
    setattr(request.state, PRINCIPAL_STATE, caller)
    return caller


def allow(permission: Permission) -> Any:
    """``Depends`` returning the caller when its role has ``permission`` (403 otherwise)."""

    async def allowed(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        _check(caller, permission)
        return caller

    setattr(allowed, ACCESS_MARK, permission)
    allowed.__name__ = f"allow_{permission.value}"
    return Depends(allowed)


def _check(caller: Principal, permission: Permission) -> None:
    if not caller.allows(permission):
        raise PermissionDeniedError(
            f"the role {caller.role.value} may not do this ({permission.value})",
            data={"permission": permission.value, "role": caller.role.value},
        )


async def _open() -> None:
    """An open route: no credentials asked."""


setattr(_open, ACCESS_MARK, "public")


def public() -> Any:
    """``Depends`` that marks a route open to anyone (health, readiness, login)."""
    return Depends(_open)


def flag(name: str) -> Any:
    """``Depends`` refusing the call (403 feature_disabled) while flag ``name`` is off for the
    caller; authenticates on its own, so its order beside ``allow`` does not matter."""

    def flagged(request: Request, caller: Annotated[Principal, Depends(principal)]) -> None:
        for mark in route_access(getattr(request.scope.get("route"), "dependant", None)):
            if isinstance(mark, Permission):
                _check(caller, mark)  # a caller without the permission hears that first
        _parts(request).flags.require(name, caller)

    flagged.__name__ = f"flag_{name}"
    return Depends(flagged)


async def page(
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=PAGE_OFFSET_MAX)] = 0,
) -> PageParams:
    """The window of a list route: ``window: Paged`` (or ``Depends(page)``)."""
    return PageParams(limit=limit, offset=offset)


Paged = Annotated[PageParams, Depends(page)]


def route_access(dependant: Any) -> list[Access]:
    """Every access marker in a route's dependency tree (``route.dependant``): a correct
    route has exactly one."""
    found: list[Access] = []
    call = getattr(dependant, "call", None)
    mark = getattr(call, ACCESS_MARK, None)
    if mark is not None:
        found.append(mark)
    for child in getattr(dependant, "dependencies", ()):
        found.extend(route_access(child))
    return found
