"""``/auth``: log in for a token pair, refresh it (the refresh token is spent), log out, and
who am I. Login and refresh are open (they are how credentials are obtained)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from quantdesk.api.deps import allow, parts, public
from quantdesk.api.schemas.auth import LoginIn, PrincipalOut, RefreshIn, TokenPairOut
from quantdesk.domain.auth import Permission, Principal
from quantdesk.services.service_parts import ServiceParts

Parts = Annotated[ServiceParts, Depends(parts)]
_NO_STORE = {"Cache-Control": "no-store"}  # tokens must not sit in any cache


def build_router() -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["auth"])

    @router.post("/login", response_model=TokenPairOut, dependencies=[public()])
    def login(body: LoginIn, request: Request, response: Response, service: Parts) -> TokenPairOut:
        """A token pair for a username and password (401 when wrong, never saying which part;
        429 with Retry-After after too many failures for the user or from the address)."""
        address = request.client.host if request.client is not None else "unknown"
        response.headers.update(_NO_STORE)
        return TokenPairOut.of(service.auth.login(body.username, body.password, address=address))

    @router.post("/refresh", response_model=TokenPairOut, dependencies=[public()])
    def refresh(body: RefreshIn, response: Response, service: Parts) -> TokenPairOut:
        """A new pair for a refresh token, which is spent: presenting it again revokes the
        whole login (it leaked)."""
        response.headers.update(_NO_STORE)
        return TokenPairOut.of(service.auth.refresh(body.refresh_token))

    @router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
    def logout(
        body: RefreshIn, service: Parts, caller: Annotated[Principal, allow(Permission.read)]
    ) -> None:
        """Revoke the caller's login that this refresh token belongs to."""
        service.auth.logout(body.refresh_token, user_id=caller.user_id)

    @router.get("/me", response_model=PrincipalOut)
    def me(caller: Annotated[Principal, allow(Permission.read)]) -> PrincipalOut:
        """Who the credential belongs to, with which role, by token or API key."""
        return PrincipalOut.of(caller)

    return router
