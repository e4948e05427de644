"""The audit log's hash chain: every event carries the hash of the one before it.

Changing, inserting, reordering or removing an event anywhere but at the very end breaks a
link that ``verify_chain`` finds: an event's own hash no longer matches its content, its
``prev_hash`` no longer matches the event before it, or the sequence has a gap.

A plain hash chain can be rewritten and resealed by whoever can write the database, and a
shorter chain (the newest events dropped) is still a valid chain. Two things reach further:

- anchors kept elsewhere: the head (seq, hash) a version or a run result recorded when it was
  made (``check_anchor``); the chain must still pass through it;
- a key kept outside the database (``AuditKey``): each event also carries an HMAC of its hash,
  and the stored head an HMAC of (seq, hash); without the key neither can be recomputed.
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from quantdesk.domain.strategies.canonical import canonical_json

GENESIS_HASH = "0" * 64
MIN_KEY_BYTES = 16


class AuditKey:
    """The secret that seals the chain. Never printed: its repr shows no byte of it."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"an audit key needs at least {MIN_KEY_BYTES} bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "AuditKey(<secret>)"

    def mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()


class AuditEvent(BaseModel):
    """One entry of the append-only log. ``hash`` seals every other field but ``mac``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1, description="1, 2, 3, ... without gaps")
    at_ns: int = Field(ge=0, description="when, ns since the epoch (UTC)")
    actor: str
    action: str = Field(description="e.g. strategy_registered, strategy_tagged")
    subject: str = Field(description="what it is about, e.g. ema-btc@3")
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    prev_hash: str
    hash: str
    mac: str | None = Field(default=None, description="HMAC of hash under the audit key")


class AuditAnchor(BaseModel):
    """The chain's head as someone saw it: the log must still pass through it later."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=0, description="0: the log was empty")
    hash: str


def event_hash(
    seq: int,
    at_ns: int,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
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


def event_mac(key: AuditKey, digest: str) -> str:
    """The key's seal on one event (its hash covers every event before it)."""
    return key.mac(f"event:{digest}")


def head_mac(key: AuditKey, head: AuditAnchor) -> str:
    """The key's seal on the head: which event is the newest (domain-separated from events)."""
    return key.mac(f"head:{head.seq}:{head.hash}")


def seal(
    seq: int,
    at_ns: int,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, JsonValue],
    prev_hash: str,
    key: AuditKey | None = None,
) -> AuditEvent:
    """The next event of a chain whose last hash is ``prev_hash`` (keyed when ``key`` is)."""
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
        mac=None if key is None else event_mac(key, digest),
    )


@dataclass(frozen=True)
class AuditBreak:
    """One broken link or record: where (an event, a version, a tag, a run), and what differs."""

    where: str
    reason: str
    seq: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _at(seq: int) -> str:
    return f"audit event {seq}"


def verify_chain(events: Iterable[AuditEvent], key: AuditKey | None = None) -> list[AuditBreak]:
    """Every broken link, in order (events by seq); empty when the chain holds.

    Each event is checked against the one stored before it, so one altered event is one
    break, and a resealed event shows as the break of the link after it.
    """
    breaks: list[AuditBreak] = []
    expected_seq, prev = 1, GENESIS_HASH
    for event in events:
        if event.seq > expected_seq:
            missing = f"events {expected_seq}..{event.seq - 1} are missing"
            breaks.append(AuditBreak(_at(event.seq), missing, event.seq))
        elif event.seq < expected_seq:
            order = f"stored after event {expected_seq - 1} (out of order)"
            breaks.append(AuditBreak(_at(event.seq), order, event.seq))
        if event.prev_hash != prev:
            breaks.append(
                AuditBreak(
                    _at(event.seq),
                    f"prev_hash {event.prev_hash[:12]} is not the hash of the event stored "
                    f"before it ({prev[:12]}): events before it were rewritten, removed or "
                    "reordered",
                    event.seq,
                )
            )
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
            breaks.append(
                AuditBreak(
                    _at(event.seq),
                    f"stored hash {event.hash[:12]}, content hashes to {recomputed[:12]} "
                    "(the event was altered)",
                    event.seq,
                )
            )
        if key is not None:
            seal_break = _check_mac(event, key)
            if seal_break is not None:
                breaks.append(seal_break)
        expected_seq, prev = event.seq + 1, event.hash
    return breaks


def _check_mac(event: AuditEvent, key: AuditKey) -> AuditBreak | None:
    if event.mac is None:
        return AuditBreak(_at(event.seq), "carries no seal of the audit key", event.seq)
    if not hmac.compare_digest(event.mac, event_mac(key, event.hash)):
        return AuditBreak(
            _at(event.seq),
            "its seal does not match the audit key (resealed without the key, or another key)",
            event.seq,
        )
    return None


def check_head(
    last: AuditEvent | None,
    head: AuditAnchor | None,
    head_seal: str | None,
    key: AuditKey | None,
) -> list[AuditBreak]:
    """The stored head must name the newest event; with a key, under the key's seal."""
    newest = AuditAnchor(seq=0, hash=GENESIS_HASH) if last is None else _anchor_of(last)
    if head is None:
        if last is None:
            return []
        return [AuditBreak("audit head", f"missing; the newest event is {newest.seq}")]
    breaks = []
    if head != newest:
        breaks.append(
            AuditBreak(
                "audit head",
                f"records event {head.seq} ({head.hash[:12]}), the newest stored is event "
                f"{newest.seq} ({newest.hash[:12]}): newest events removed or added around it",
            )
        )
    if key is not None and (
        head_seal is None or not hmac.compare_digest(head_seal, head_mac(key, head))
    ):
        breaks.append(AuditBreak("audit head", "its seal does not match the audit key (rewritten)"))
    return breaks


def _anchor_of(event: AuditEvent) -> AuditAnchor:
    return AuditAnchor(seq=event.seq, hash=event.hash)


def check_anchor(
    where: str, anchor: AuditAnchor, hashes: Mapping[int, str], last_seq: int
) -> AuditBreak | None:
    """An anchor recorded elsewhere (a run result): the chain must still pass through it.

    ``hashes`` maps each stored seq to its hash; ``last_seq`` is the newest stored event.
    """
    if anchor.seq == 0:
        return None
    if anchor.seq > last_seq:
        return AuditBreak(
            where,
            f"recorded the log at event {anchor.seq}; it now ends at event {last_seq} "
            "(newest events removed)",
            anchor.seq,
        )
    stored = hashes.get(anchor.seq)
    if stored != anchor.hash:
        found = "is missing" if stored is None else f"hashes {stored[:12]}"
        return AuditBreak(
            where,
            f"recorded event {anchor.seq} as {anchor.hash[:12]}; stored it {found} "
            "(the log was rewritten)",
            anchor.seq,
        )
    return None
