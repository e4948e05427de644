"""The audit chain's pure rules: links, hashes, keyed seals, the head and anchors."""

import hashlib
import hmac

import pytest

from quantdesk.domain.audit import (
    GENESIS_HASH,
    MIN_KEY_BYTES,
    AuditAnchor,
    AuditBreak,
    AuditEvent,
    AuditKey,
    check_anchor,
    check_head,
    event_hash,
    event_mac,
    head_mac,
    seal,
    verify_chain,
)
from quantdesk.domain.strategies.canonical import canonical_json

KEY = AuditKey(b"s" * 32)


def chain(count: int, key: AuditKey | None = None) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for seq in range(1, count + 1):
        prev = events[-1].hash if events else GENESIS_HASH
        events.append(seal(seq, 10 * seq, "alice", "act", f"s@{seq}", {"n": seq}, prev, key))
    return events


def rewritten(event: AuditEvent, **changes: object) -> AuditEvent:
    """``event`` changed and resealed (its own hash valid again), as anyone could do."""
    data = {**event.model_dump(), **changes}
    digest = event_hash(
        data["seq"],
        data["at_ns"],
        data["actor"],
        data["action"],
        data["subject"],
        data["payload"],
        data["prev_hash"],
    )
    return AuditEvent(**{**data, "hash": digest})


def reasons(breaks: list[AuditBreak]) -> list[str]:
    return [str(b) for b in breaks]


def test_event_hash_is_sha256_of_the_canonical_event() -> None:
    body = {
        "seq": 1,
        "at_ns": 2,
        "actor": "a",
        "action": "b",
        "subject": "c",
        "payload": {"x": 1},
        "prev_hash": GENESIS_HASH,
    }
    expected = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    assert event_hash(1, 2, "a", "b", "c", {"x": 1}, GENESIS_HASH) == expected


def test_seal_links_and_seals_with_the_key_only_when_given() -> None:
    event = seal(1, 5, "a", "b", "c", {}, GENESIS_HASH)
    assert event.mac is None and event.prev_hash == GENESIS_HASH
    assert event.hash == event_hash(1, 5, "a", "b", "c", {}, GENESIS_HASH)
    keyed = seal(1, 5, "a", "b", "c", {}, GENESIS_HASH, KEY)
    assert keyed.hash == event.hash
    assert keyed.mac == hmac.new(b"s" * 32, f"event:{event.hash}".encode(), "sha256").hexdigest()


def test_the_key_is_never_shown_and_must_be_long_enough() -> None:
    assert "s" * 4 not in repr(KEY)
    assert repr(KEY) == "AuditKey(<secret>)"
    AuditKey(b"x" * MIN_KEY_BYTES)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        AuditKey(b"x" * (MIN_KEY_BYTES - 1))


def test_event_and_head_seals_are_domain_separated() -> None:
    digest = "ab" * 32
    assert event_mac(KEY, digest) == KEY.mac(f"event:{digest}")
    head = AuditAnchor(seq=3, hash=digest)
    assert head_mac(KEY, head) == KEY.mac(f"head:3:{digest}")
    assert event_mac(KEY, digest) != head_mac(KEY, head)


def test_an_intact_chain_has_no_break_keyed_or_not() -> None:
    assert verify_chain([]) == []
    assert verify_chain(chain(4)) == []
    assert verify_chain(chain(4, KEY), KEY) == []


def test_an_altered_event_is_one_break_naming_stored_and_recomputed_hash() -> None:
    events = chain(3)
    altered = events[1].model_copy(update={"actor": "mallory"})
    recomputed = rewritten(altered).hash
    breaks = verify_chain([events[0], altered, events[2]])
    assert breaks == [
        AuditBreak(
            "audit event 2",
            f"stored hash {altered.hash[:12]}, content hashes to {recomputed[:12]} "
            "(the event was altered)",
            2,
        )
    ]


def test_a_resealed_event_breaks_the_link_after_it() -> None:
    events = chain(3)
    forged = rewritten(events[1], actor="mallory")
    (broken,) = verify_chain([events[0], forged, events[2]])
    assert broken == AuditBreak(
        "audit event 3",
        f"prev_hash {events[2].prev_hash[:12]} is not the hash of the event stored before it "
        f"({forged.hash[:12]}): events before it were rewritten, removed or reordered",
        3,
    )


def test_a_first_event_not_linked_to_genesis_is_a_break() -> None:
    first = rewritten(chain(1)[0], prev_hash="f" * 64)
    (broken,) = verify_chain([first])
    assert broken.seq == 1 and broken.reason.startswith(f"prev_hash {'f' * 12} ")
    assert f"({GENESIS_HASH[:12]})" in broken.reason


def test_a_gap_and_a_repeat_are_named() -> None:
    events = chain(4)
    assert verify_chain([events[0], events[3]])[0] == AuditBreak(
        "audit event 4", "events 2..3 are missing", 4
    )
    starts_late = verify_chain(events[1:])
    assert str(starts_late[0]) == "audit event 2: events 1..1 are missing"
    again = verify_chain([events[0], events[1], events[1]])
    assert again[0] == AuditBreak("audit event 2", "stored after event 2 (out of order)", 2)


def test_a_keyed_chain_needs_every_seal() -> None:
    events = chain(3, KEY)
    stripped = events[1].model_copy(update={"mac": None})
    assert verify_chain([events[0], stripped, events[2]], KEY) == [
        AuditBreak("audit event 2", "carries no seal of the audit key", 2)
    ]
    other = AuditKey(b"o" * 32)
    assert verify_chain(events[:2], other)[1] == AuditBreak(
        "audit event 2",
        "its seal does not match the audit key (resealed without the key, or another key)",
        2,
    )
    assert verify_chain(chain(2)) == [] and len(verify_chain(chain(2), KEY)) == 2


def test_the_head_must_name_the_newest_event() -> None:
    events = chain(3)
    newest = AuditAnchor(seq=3, hash=events[2].hash)
    assert check_head(events[2], newest, None, None) == []
    assert check_head(None, None, None, None) == []
    assert check_head(None, AuditAnchor(seq=0, hash=GENESIS_HASH), None, None) == []
    assert reasons(check_head(events[2], None, None, None)) == [
        "audit head: missing; the newest event is 3"
    ]
    older = AuditAnchor(seq=2, hash=events[1].hash)
    assert reasons(check_head(events[2], older, None, None)) == [
        f"audit head: records event 2 ({events[1].hash[:12]}), the newest stored is event 3 "
        f"({events[2].hash[:12]}): newest events removed or added around it"
    ]
    assert len(check_head(None, older, None, None)) == 1


def test_a_keyed_head_needs_its_seal() -> None:
    events = chain(2, KEY)
    head = AuditAnchor(seq=2, hash=events[1].hash)
    assert check_head(events[1], head, head_mac(KEY, head), KEY) == []
    bad = "audit head: its seal does not match the audit key (rewritten)"
    assert reasons(check_head(events[1], head, None, KEY)) == [bad]
    assert reasons(check_head(events[1], head, event_mac(KEY, head.hash), KEY)) == [bad]
    assert check_head(events[1], head, None, None) == []


def test_an_anchor_must_still_be_on_the_chain() -> None:
    events = chain(3)
    hashes = {e.seq: e.hash for e in events}
    assert check_anchor("run r", AuditAnchor(seq=0, hash="x"), hashes, 3) is None
    assert check_anchor("run r", AuditAnchor(seq=3, hash=events[2].hash), hashes, 3) is None
    assert check_anchor("run r", AuditAnchor(seq=1, hash=events[0].hash), hashes, 3) is None
    assert check_anchor("run r", AuditAnchor(seq=4, hash="a" * 64), hashes, 3) == AuditBreak(
        "run r",
        "recorded the log at event 4; it now ends at event 3 (newest events removed)",
        4,
    )
    assert check_anchor("run r", AuditAnchor(seq=2, hash="a" * 64), hashes, 3) == AuditBreak(
        "run r",
        f"recorded event 2 as {'a' * 12}; stored it hashes {events[1].hash[:12]} "
        "(the log was rewritten)",
        2,
    )
    gone = {1: events[0].hash, 3: events[2].hash}
    broken = check_anchor("run r", AuditAnchor(seq=2, hash=events[1].hash), gone, 3)
    assert broken is not None and "stored it is missing" in broken.reason


def test_a_break_reads_where_then_what() -> None:
    assert str(AuditBreak("tag a@live", "moved")) == "tag a@live: moved"
    assert AuditBreak("x", "y").seq is None
