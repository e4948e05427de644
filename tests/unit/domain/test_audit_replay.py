"""Replaying the audit log against the stored registry rows: every disagreement is named."""

import hashlib
from dataclasses import replace
from typing import Any

from quantdesk.domain.audit import GENESIS_HASH, AuditEvent, seal
from quantdesk.domain.audit_replay import (
    RegistryRecords,
    StoredDeprecation,
    StoredTag,
    StoredVersion,
    replay_registry,
)

CONTENT = '{"family":"trend_following","name":"t","strategy_id":"s"}'
DIGEST = hashlib.sha256(CONTENT.encode()).hexdigest()


class Log:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def add(self, action: str, version: int, actor: str = "al", **payload: Any) -> AuditEvent:
        seq = len(self.events) + 1
        prev = self.events[-1].hash if self.events else GENESIS_HASH
        body = {"strategy_id": "s", "version": version, **payload}
        event = seal(seq, 100 + seq, actor, action, f"s@{version}", body, prev)
        self.events.append(event)
        return event


def register(log: Log, version: int) -> StoredVersion:
    event = log.add(
        "strategy_registered",
        version,
        family="trend_following",
        content_hash=DIGEST,
        reason="why",
    )
    return StoredVersion(
        "s", version, "trend_following", "t", CONTENT, DIGEST, "al", event.at_ns, "why",
        event.seq, event.hash,
    )  # fmt: skip


def history() -> tuple[Log, RegistryRecords]:
    log = Log()
    v1, v2 = register(log, 1), register(log, 2)
    log.add("strategy_tagged", 1, "bo", tag="live", moved_from=None)
    moved = log.add("strategy_tagged", 2, "bo", tag="live", moved_from=1)
    gone = log.add("strategy_deprecated", 1, "bo", reason="old")
    records = RegistryRecords(
        [v1, v2],
        [StoredTag("s", "live", 2, "bo", moved.at_ns)],
        [StoredDeprecation("s", 1, "bo", "old", gone.at_ns)],
    )
    return log, records


def breaks(log: Log, records: RegistryRecords) -> list[str]:
    return [str(b) for b in replay_registry(log.events, records)]


def test_a_faithful_registry_replays_clean() -> None:
    log, records = history()
    assert breaks(log, records) == []
    assert breaks(Log(), RegistryRecords()) == []


def test_edited_content_is_named_with_both_hashes() -> None:
    log, records = history()
    edited = CONTENT.replace('"t"', '"u"')
    v1 = replace(records.versions[0], content=edited)
    recomputed = hashlib.sha256(edited.encode()).hexdigest()
    assert breaks(log, replace(records, versions=[v1, records.versions[1]])) == [
        f"version s@1: content hashes to {recomputed[:12]}, stored content_hash {DIGEST[:12]} "
        "(the content was edited)"
    ]


def test_content_that_is_not_an_object_or_disagrees_with_its_columns() -> None:
    log, records = history()
    for content, expected in [
        ("[1]", "version s@1: content is not a JSON object"),
        ("{", "version s@1: content is not JSON"),
    ]:
        digest = hashlib.sha256(content.encode()).hexdigest()
        v1 = replace(records.versions[0], content=content, content_hash=digest)
        assert expected in breaks(log, replace(records, versions=[v1, records.versions[1]]))
    v1 = replace(records.versions[0], name="u", strategy_id="s")
    assert breaks(log, replace(records, versions=[v1, records.versions[1]])) == [
        "version s@1: name column 'u', its content says 't'"
    ]


def test_each_bookkeeping_column_is_checked_against_its_event() -> None:
    log, records = history()
    v2 = records.versions[1]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"family": "momentum_rotation"}, "family stored 'momentum_rotation', logged "),
        ({"reason": "x"}, "reason stored 'x', logged 'why'"),
        ({"author": "mal"}, "author stored 'mal', logged 'al'"),
        ({"created_at_ns": 1}, "created_at_ns stored 1, logged 102"),
        ({"audit_seq": 1}, f"audit anchor stored (1, '{v2.audit_hash}'), logged (2, "),
        ({"audit_hash": None}, "audit anchor stored (2, None), logged (2, "),
    ]
    for change, expected in cases:
        found = breaks(log, replace(records, versions=[records.versions[0], replace(v2, **change)]))
        assert any(b.startswith(f"version s@2: {expected}") for b in found), (change, found)


def test_versions_and_events_must_match_one_to_one() -> None:
    log, records = history()
    assert breaks(log, replace(records, versions=[records.versions[0]])) == [
        "version s@2: registered by audit event 2 but not stored (deleted)"
    ]
    extra = replace(records.versions[1], version=3)
    assert breaks(log, replace(records, versions=[*records.versions, extra])) == [
        "version s@3: no audit event registers it"
    ]


def test_the_log_must_number_versions_in_order() -> None:
    log = Log()
    register(log, 2)
    assert breaks(log, RegistryRecords()) == [
        "audit event 1: registers version 2 after version 0",
        "version s@2: registered by audit event 1 but not stored (deleted)",
    ]


def test_tags_replay_to_the_stored_rows() -> None:
    log, records = history()
    tag = records.tags[0]
    tag_cases: list[tuple[dict[str, Any], str]] = [
        ({"version": 1}, "tag s@live: version stored 1, logged 2 (audit event 4)"),
        ({"actor": "mal"}, "tag s@live: actor stored 'mal', logged 'bo' (audit event 4)"),
        ({"at_ns": 1}, "tag s@live: at_ns stored 1, logged 104 (audit event 4)"),
    ]
    for change, expected in tag_cases:
        assert breaks(log, replace(records, tags=[replace(tag, **change)])) == [expected]
    assert breaks(log, replace(records, tags=[])) == [
        "tag s@live: audit event 4 puts it on version 2; not stored (deleted)"
    ]
    invented = StoredTag("s", "paper", 1, "m", 0)
    assert breaks(log, replace(records, tags=[tag, invented])) == [
        "tag s@paper: on version 1; no audit event tags it"
    ]


def test_a_tag_event_must_say_where_the_tag_was() -> None:
    log, records = history()
    log.add("strategy_tagged", 1, "bo", tag="live", moved_from=1)
    (first, *_) = breaks(log, records)
    assert first == "audit event 6: says tag 'live' moved from version 1, the log had it on 2"


def test_deprecations_replay_to_the_stored_rows() -> None:
    log, records = history()
    dep = records.deprecations[0]
    dep_cases: list[tuple[dict[str, Any], str]] = [
        ({"reason": "new"}, "reason stored 'new', logged 'old'"),
        ({"actor": "mal"}, "actor stored 'mal', logged 'bo'"),
        ({"at_ns": 1}, "at_ns stored 1, logged 105"),
    ]
    for change, expected in dep_cases:
        assert breaks(log, replace(records, deprecations=[replace(dep, **change)])) == [
            f"deprecation of s@1: {expected} (audit event 5)"
        ]
    assert breaks(log, replace(records, deprecations=[])) == [
        "deprecation of s@1: made by audit event 5; not stored (deleted)"
    ]
    other = StoredDeprecation("s", 2, "m", "r", 0)
    assert breaks(log, replace(records, deprecations=[dep, other])) == [
        "deprecation of s@2: stored; no audit event deprecates it"
    ]


def test_events_that_make_no_sense_are_named() -> None:
    log, records = history()
    log.add("strategy_deprecated", 1, "bo", reason="again")
    log.add("strategy_tagged", 7, "bo", tag="x", moved_from=None)
    log.add("strategy_exploded", 1)
    extra = seal(9, 1, "a", "strategy_tagged", "s@1", {"strategy_id": "s"}, log.events[-1].hash)
    wrong_subject = seal(
        10, 1, "a", "strategy_deprecated", "t@1", {"strategy_id": "s", "version": 2}, extra.hash
    )
    log.events += [extra, wrong_subject]
    found = breaks(log, records)
    assert "audit event 6: deprecates s@1 a second time" in found
    assert "audit event 7: strategy_tagged of s@7, never registered before" in found
    assert "audit event 8: unknown action 'strategy_exploded'" in found
    assert "audit event 9: names no strategy version" in found
    assert "audit event 10: subject 't@1' is not s@2" in found


def test_each_break_names_the_event_it_rests_on() -> None:
    log, records = history()
    v2 = records.versions[1]
    tag, dep = records.tags[0], records.deprecations[0]
    cases: list[tuple[RegistryRecords, int | None]] = [
        (replace(records, versions=[records.versions[0]]), 2),
        (replace(records, versions=[records.versions[0], replace(v2, author="m")]), None),
        (replace(records, tags=[]), 4),
        (replace(records, tags=[replace(tag, actor="m")]), 4),
        (replace(records, deprecations=[]), 5),
        (replace(records, deprecations=[replace(dep, actor="m")]), 5),
    ]
    for changed, seq in cases:
        assert [b.seq for b in replay_registry(log.events, changed)] == [seq]
    odd = Log()
    register(odd, 2)
    assert [b.seq for b in replay_registry(odd.events, RegistryRecords())] == [1, 1]


def test_every_disagreeing_row_is_reported_not_only_the_last() -> None:
    log, records = history()
    log.add("strategy_tagged", 1, "bo", tag="paper", moved_from=None)
    log.add("strategy_deprecated", 2, "bo", reason="old")
    at = {e.payload.get("tag"): e.at_ns for e in log.events}
    tags = [
        StoredTag("s", "live", 2, "m", at["live"]),
        StoredTag("s", "paper", 1, "m", at["paper"]),
    ]
    deps = [
        StoredDeprecation("s", 1, "m", "old", log.events[4].at_ns),
        StoredDeprecation("s", 2, "m", "old", log.events[6].at_ns),
    ]
    found = breaks(log, replace(records, tags=tags, deprecations=deps))
    assert found == [
        "tag s@live: actor stored 'm', logged 'bo' (audit event 4)",
        "tag s@paper: actor stored 'm', logged 'bo' (audit event 6)",
        "deprecation of s@1: actor stored 'm', logged 'bo' (audit event 5)",
        "deprecation of s@2: actor stored 'm', logged 'bo' (audit event 7)",
    ]
