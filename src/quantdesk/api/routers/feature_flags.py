"""``/feature-flags``: list, read, change (admins), history, revert, and decide for a user.

Every change is a new version with its audit event; a decision reads the flag afresh, so a
change applies to the next request in every server process.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from quantdesk.api.deps import Paged, allow, parts
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.schemas.feature_flags import (
    FeatureFlagDecision,
    FeatureFlagOut,
    FeatureFlagRevert,
    FeatureFlagSet,
)
from quantdesk.domain.auth import Permission, Principal, Role
from quantdesk.domain.feature_flags import FLAG_NAME_PATTERN
from quantdesk.domain.text import ACTOR_MAX_LENGTH
from quantdesk.services.service_parts import ServiceParts

Parts = Annotated[ServiceParts, Depends(parts)]
Reader = Annotated[Principal, allow(Permission.read)]
Manager = Annotated[Principal, allow(Permission.flags_manage)]
FlagName = Annotated[str, Path(max_length=63, pattern=FLAG_NAME_PATTERN, description="a flag")]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/feature-flags", tags=["feature-flags"])

    @router.get("", response_model=Page[FeatureFlagOut])
    def list_flags(service: Parts, _: Reader, window: Paged) -> Page[FeatureFlagOut]:
        """Every flag at its current version, by name."""
        flags = service.flags.flags()
        chosen = flags[window.offset : window.offset + window.limit]
        return page_of([FeatureFlagOut.of(f) for f in chosen], len(flags), window)

    @router.get("/{name}", response_model=FeatureFlagOut)
    def get_flag(name: FlagName, service: Parts, _: Reader) -> FeatureFlagOut:
        """One flag at its current version."""
        return FeatureFlagOut.of(service.flags.get(name))

    @router.put("/{name}", response_model=FeatureFlagOut)
    def set_flag(
        name: FlagName, body: FeatureFlagSet, service: Parts, caller: Manager
    ) -> FeatureFlagOut:
        """Change a flag (or create one): a new version, audited, in force at once; the same
        settings again change nothing."""
        changed = service.flags.set(
            name, body.update(), actor=caller.username, expected_version=body.expected_version
        )
        return FeatureFlagOut.of(changed)

    @router.get("/{name}/history", response_model=Page[FeatureFlagOut])
    def flag_history(
        name: FlagName, service: Parts, _: Reader, window: Paged
    ) -> Page[FeatureFlagOut]:
        """Every value the flag had, newest first (a seeded flag's default last)."""
        found, total = service.flags.history(name, limit=window.limit, offset=window.offset)
        return page_of([FeatureFlagOut.of(f) for f in found], total, window)

    @router.post("/{name}/revert", response_model=FeatureFlagOut)
    def revert_flag(
        name: FlagName, body: FeatureFlagRevert, service: Parts, caller: Manager
    ) -> FeatureFlagOut:
        """Restore an earlier version's settings as a new version (audited as a revert)."""
        reverted = service.flags.revert(
            name, body.version, actor=caller.username, reason=body.reason
        )
        return FeatureFlagOut.of(reverted)

    @router.get("/{name}/evaluate", response_model=FeatureFlagDecision)
    def evaluate_flag(
        name: FlagName,
        service: Parts,
        caller: Reader,
        user_id: Annotated[
            str | None,
            Query(min_length=1, max_length=ACTOR_MAX_LENGTH, description="default: the caller"),
        ] = None,
        role: Annotated[Role | None, Query(description="default: the caller's role")] = None,
    ) -> FeatureFlagDecision:
        """Whether the flag is on for a user and role here (the caller by default), and why."""
        who = caller.user_id if user_id is None else user_id
        as_role = caller.role if role is None else role
        decision = service.flags.decide(name, user_id=who, role=as_role)
        return FeatureFlagDecision.of(
            decision, user_id=who, role=as_role, environment=service.flags.environment
        )

    return router
