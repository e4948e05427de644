"""``/audit``: the hash-chained audit log (every change and state-changing request), queried
with filters and pages, and the verification of the whole chain."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from quantdesk.api.deps import Paged, allow, parts
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.schemas.audit import AuditBreakOut, AuditEventOut, AuditVerification
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.time import TS_MAX_NS
from quantdesk.services.audit_trail import ACTION_MAX_LENGTH, SUBJECT_MAX_LENGTH
from quantdesk.services.ports.audit_trail import AuditFilter
from quantdesk.services.registry import SEQUENCE_MAX
from quantdesk.services.service_parts import ServiceParts

ACTOR_MAX = 200
Parts = Annotated[ServiceParts, Depends(parts)]
Reader = Annotated[Principal, allow(Permission.read)]
Instant = Annotated[int | None, Query(ge=0, le=TS_MAX_NS, description="ns UTC")]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/audit", tags=["audit"])

    @router.get("", response_model=Page[AuditEventOut])
    def query_audit(
        service: Parts,
        _: Reader,
        window: Paged,
        actor: Annotated[str | None, Query(max_length=ACTOR_MAX)] = None,
        action: Annotated[
            str | None,
            Query(max_length=ACTION_MAX_LENGTH, description="e.g. strategy_registered"),
        ] = None,
        subject: Annotated[
            str | None, Query(max_length=SUBJECT_MAX_LENGTH, description="a prefix")
        ] = None,
        after_seq: Annotated[int, Query(ge=0, le=SEQUENCE_MAX)] = 0,
        since_ns: Instant = None,
        until_ns: Instant = None,
    ) -> Page[AuditEventOut]:
        """Events in sequence order (oldest first), ``until_ns`` exclusive; ``after_seq``
        follows the log from a known event."""
        found, total = service.audit.query(
            AuditFilter(
                actor=actor,
                action=action,
                subject=subject,
                after_seq=after_seq,
                since_ns=since_ns,
                until_ns=until_ns,
            ),
            limit=window.limit,
            offset=window.offset,
        )
        return page_of([AuditEventOut.of(event) for event in found], total, window)

    @router.get("/verify", response_model=AuditVerification)
    def verify_audit(service: Parts, _: Reader) -> AuditVerification:
        """Every link of the chain, its head, the registry's replay and the runs' anchors
        (``holds`` false: each break says where and what differs)."""
        report = service.audit.report()
        return AuditVerification(
            holds=report.holds,
            events=report.events,
            anchors=report.anchors,
            keyed=report.keyed,
            breaks=[AuditBreakOut.of(b) for b in report.breaks],
        )

    return router
