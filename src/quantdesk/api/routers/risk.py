"""``/risk``: the portfolio's limits (versioned, audited), the kill switches, risk events.

Limits set here are the desk's standing limits for its live and paper sessions; a backtest
states its own in its request (``risk.limits``), so a stored run keeps meaning what it ran
with. Risk events: a run's decisions (``run_id``: denials, reductions, halts from its
result), or without one the desk's own changes (switches thrown and released, limits set)
from the audit log.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from quantdesk.api.deps import Paged, allow, parts, platform
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.schemas.risk import (
    KillSwitchRelease,
    KillSwitchStatus,
    KillSwitchThrow,
    RiskEventOut,
    RiskLimitsSet,
)
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.risk import KillSwitch, KillSwitchScope, RiskEventKind
from quantdesk.domain.risk_limits import RiskLimitVersion
from quantdesk.domain.time import TS_MAX_NS
from quantdesk.services.platform import Platform
from quantdesk.services.risk_desk import DESK_KINDS, DeskRiskEvent, RiskDesk
from quantdesk.services.service_parts import ServiceParts

RUN_ID_MAX = 200
ID_MAX = 200
Desk = Annotated[Platform, Depends(platform)]
Parts = Annotated[ServiceParts, Depends(parts)]
Reader = Annotated[Principal, allow(Permission.read)]
Controller = Annotated[Principal, allow(Permission.risk_control)]
Instant = Annotated[int | None, Query(ge=0, le=TS_MAX_NS, description="ns UTC")]


async def risk_desk(desk: Desk, service: Parts) -> RiskDesk:
    """The kill switches with their audit trail (cheap: two references)."""
    return RiskDesk(desk.risk, service.audit)


Controls = Annotated[RiskDesk, Depends(risk_desk)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/risk", tags=["risk"])

    @router.get("/limits", response_model=RiskLimitVersion)
    def get_limits(service: Parts, _: Reader) -> RiskLimitVersion:
        """The portfolio's current limits (version 0: none set, no limit at all)."""
        return service.risk_limits.current()

    @router.put("/limits", response_model=RiskLimitVersion)
    def set_limits(service: Parts, caller: Controller, body: RiskLimitsSet) -> RiskLimitVersion:
        """A new version of the limits (audited); the same limits again change nothing;
        409 ``risk_limits_changed`` when ``expected_version`` is not the current one."""
        return service.risk_limits.set(
            body.limits,
            actor=caller.username,
            reason=body.reason,
            expected_version=body.expected_version,
        )

    @router.get("/limits/history", response_model=Page[RiskLimitVersion])
    def limits_history(service: Parts, _: Reader, window: Paged) -> Page[RiskLimitVersion]:
        """Every version of the limits, newest first."""
        found, total = service.risk_limits.history(limit=window.limit, offset=window.offset)
        return page_of(found, total, window)

    @router.get("/kill-switch", response_model=KillSwitchStatus)
    def kill_switch_status(controls: Controls, _: Reader) -> KillSwitchStatus:
        """Every thrown switch, oldest first."""
        return _status(controls.status())

    @router.post("/kill-switch", response_model=KillSwitch, status_code=status.HTTP_201_CREATED)
    def throw_kill_switch(
        controls: Controls, caller: Controller, body: KillSwitchThrow
    ) -> KillSwitch:
        """Halt the portfolio, one strategy or one instrument from the next order on."""
        return controls.throw(body.scope, body.target, body.reason, caller.username)

    @router.post("/kill-switch/release", response_model=KillSwitchStatus)
    def release_kill_switch(
        controls: Controls, caller: Controller, body: KillSwitchRelease
    ) -> KillSwitchStatus:
        """Release a thrown switch (404 when it is not thrown); the switches left."""
        controls.release(body.scope, body.target, caller.username)
        return _status(controls.status())

    @router.get("/events", response_model=Page[RiskEventOut])
    def risk_events(
        desk: Desk,
        controls: Controls,
        _: Reader,
        window: Paged,
        run_id: Annotated[str | None, Query(min_length=1, max_length=RUN_ID_MAX)] = None,
        kind: Annotated[
            str | None,
            Query(
                max_length=40,
                description="a run's: deny, reduce, halt, reducing, release, mismatch; "
                "the desk's: kill_switch_thrown, kill_switch_released, limits_set",
            ),
        ] = None,
        strategy_id: Annotated[str | None, Query(max_length=ID_MAX)] = None,
        instrument_id: Annotated[str | None, Query(max_length=ID_MAX)] = None,
        since_ns: Instant = None,
        until_ns: Instant = None,
    ) -> Page[RiskEventOut]:
        """A run's risk decisions (``run_id``), or the desk's risk changes; oldest first,
        ``until_ns`` exclusive."""
        if run_id is None:
            if kind is not None and kind not in DESK_KINDS:
                raise _bad_kind(kind, sorted(DESK_KINDS))
            found, total = controls.events(
                kind=kind,
                since_ns=since_ns,
                until_ns=until_ns,
                limit=window.limit,
                offset=window.offset,
            )
            return page_of([_desk_out(event) for event in found], total, window)
        kinds = {k.value for k in RiskEventKind}
        if kind is not None and kind not in kinds:
            raise _bad_kind(kind, sorted(kinds))
        result = desk.backtests.result(run_id)
        chosen = [
            event
            for event in result.risk_events
            if (kind is None or event.kind.value == kind)
            and (strategy_id is None or event.strategy_id == strategy_id)
            and (instrument_id is None or event.instrument_id == instrument_id)
            and (since_ns is None or event.ts_ns >= since_ns)
            and (until_ns is None or event.ts_ns < until_ns)
        ]
        page = chosen[window.offset : window.offset + window.limit]
        return page_of([RiskEventOut.of_run(result.run_id, e) for e in page], len(chosen), window)

    return router


def _status(thrown: list[KillSwitch]) -> KillSwitchStatus:
    halted = any(s.scope is KillSwitchScope.PORTFOLIO for s in thrown)
    return KillSwitchStatus(thrown=thrown, portfolio_halted=halted)


def _desk_out(event: DeskRiskEvent) -> RiskEventOut:
    return RiskEventOut(
        source="desk",
        ts_ns=event.at_ns,
        kind=event.kind,
        scope=event.scope,
        strategy_id=event.target if event.scope == KillSwitchScope.STRATEGY.value else "",
        instrument_id=event.target if event.scope == KillSwitchScope.INSTRUMENT.value else "",
        detail=event.detail,
        actor=event.actor,
    )


def _bad_kind(kind: str, known: list[str]) -> InvalidInputError:
    return InvalidInputError(
        f"unknown risk event kind {kind!r}: one of {', '.join(known)}",
        code="invalid_input",
        data={"kind": kind[:40]},
    )
