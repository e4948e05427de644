"""The audit log's hash chain: every event carries the hash of the one before it.

Changing, inserting or removing an event anywhere but at the very end breaks a link that
``verify_chain`` finds: an event's own hash no longer matches its content, or its
``prev_hash`` no longer matches the event before it, or the sequence has a gap. (Dropping the
newest events leaves a shorter, valid chain; the registry cross-checks its versions against the
log for that.)
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from quantdesk.domain.strategy_definitions import canonical_json

GENESIS_HASH = "0" * 64


class AuditEvent(BaseModel):
    """One entry of the append-only log. ``hash`` seals every other field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1, description="1, 2, 3, ... without gaps")
    at_ns: int = Field(ge=0, description="when, ns since the epoch (UTC)")
    actor: str
    action: str = Field(description="e.g. strategy_registered, strategy_tagged")
    subject: str = Field(description="what it is about, e.g. ema-btc@3")
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    prev_hash: str
    hash: str


def event_hash(
    seq: int,
    at_ns: int,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, Any],
    prev_hash: str,
) -> str:
    """sha256 over the canonical JSON of everything the event says, including the link."""
    sealed = {
        "seq": seq,
        "at_ns": at_ns,
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(sealed).encode()).hexdigest()


def seal(
    seq: int,
    at_ns: int,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, JsonValue],
    prev_hash: str,
) -> AuditEvent:
    """The next event of a chain whose last hash is ``prev_hash``."""
    digest = event_hash(seq, at_ns, actor, action, subject, payload, prev_hash)
    return AuditEvent(
        seq=seq,
        at_ns=at_ns,
        actor=actor,
        action=action,
        subject=subject,
        payload=payload,
        prev_hash=prev_hash,
        hash=digest,
    )


@dataclass(frozen=True)
class AuditBreak:
    """The first broken link: which event, and what is wrong with it."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit event {self.seq}: {self.reason}"


def verify_chain(events: Iterable[AuditEvent]) -> AuditBreak | None:
    """``None`` when every link holds, else the first one that does not (events by seq)."""
    expected_seq, prev = 1, GENESIS_HASH
    for event in events:
        if event.seq != expected_seq:
            return AuditBreak(expected_seq, f"missing: the next event stored is {event.seq}")
        if event.prev_hash != prev:
            return AuditBreak(event.seq, "prev_hash does not match the previous event's hash")
        recomputed = event_hash(
            event.seq,
            event.at_ns,
            event.actor,
            event.action,
            event.subject,
            event.payload,
            event.prev_hash,
        )
        if recomputed != event.hash:
            return AuditBreak(event.seq, "content does not match its hash (altered)")
        expected_seq, prev = event.seq + 1, event.hash
    return None
