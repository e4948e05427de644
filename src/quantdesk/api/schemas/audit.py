"""What ``/audit`` answers: events of the hash-chained log, and whether the chain holds."""

from pydantic import BaseModel, ConfigDict, JsonValue

from quantdesk.domain.audit import AuditBreak, AuditEvent


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AuditEventOut(_Model):
    seq: int
    at_ns: int
    actor: str
    action: str
    subject: str
    payload: dict[str, JsonValue]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditEventOut":
        return cls(
            seq=event.seq,
            at_ns=event.at_ns,
            actor=event.actor,
            action=event.action,
            subject=event.subject,
            payload=dict(event.payload),
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


class AuditBreakOut(_Model):
    where: str
    reason: str
    seq: int | None

    @classmethod
    def of(cls, broken: AuditBreak) -> "AuditBreakOut":
        return cls(where=broken.where, reason=broken.reason, seq=broken.seq)


class AuditVerification(_Model):
    """``holds``: every link, the head, the registry's replay and the runs' anchors agree."""

    holds: bool
    events: int
    anchors: int
    keyed: bool
    breaks: list[AuditBreakOut]
