"""Replay the audit log against what the registry stores: versions, tags, deprecations.

The chain proves the log was not altered; this proves the tables say what the log says. Each
stored version's content must hash to its recorded content hash, and every column of it, of
each tag and of each deprecation must match the event that made it. Whatever the log does not
account for, or accounts for but is not stored, is a break.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quantdesk.domain.audit import AuditBreak, AuditEvent
from quantdesk.domain.strategies.versions import StrategyAction


@dataclass(frozen=True)
class StoredVersion:
    """A version row as stored, unparsed (an edited row must still be checkable)."""

    strategy_id: str
    version: int
    family: str
    name: str
    content: str
    content_hash: str
    author: str
    created_at_ns: int
    reason: str
    audit_seq: int | None
    audit_hash: str | None

    @property
    def ref(self) -> str:
        return f"{self.strategy_id}@{self.version}"


@dataclass(frozen=True)
class StoredTag:
    strategy_id: str
    tag: str
    version: int
    actor: str
    at_ns: int


@dataclass(frozen=True)
class StoredDeprecation:
    strategy_id: str
    version: int
    actor: str
    reason: str
    at_ns: int


@dataclass(frozen=True)
class RegistryRecords:
    versions: Sequence[StoredVersion] = ()
    tags: Sequence[StoredTag] = ()
    deprecations: Sequence[StoredDeprecation] = ()


Key = tuple[str, int]


@dataclass
class _Replay:
    """The registry as the log tells it, event by event."""

    registered: dict[Key, AuditEvent] = field(default_factory=dict)
    tags: dict[tuple[str, str], AuditEvent] = field(default_factory=dict)
    deprecated: dict[Key, AuditEvent] = field(default_factory=dict)
    breaks: list[AuditBreak] = field(default_factory=list)

    def fail(self, event: AuditEvent, reason: str) -> None:
        self.breaks.append(AuditBreak(f"audit event {event.seq}", reason, event.seq))


def replay_registry(events: Sequence[AuditEvent], records: RegistryRecords) -> list[AuditBreak]:
    """Every disagreement between the log and the stored records; empty when they agree."""
    replay = _Replay()
    for event in events:
        _apply(replay, event)
    breaks = replay.breaks
    breaks += _check_versions(replay, records.versions)
    breaks += _check_tags(replay, records.tags)
    breaks += _check_deprecations(replay, records.deprecations)
    return breaks


def _target(event: AuditEvent) -> Key | None:
    strategy_id, version = event.payload.get("strategy_id"), event.payload.get("version")
    if not isinstance(strategy_id, str) or not isinstance(version, int):
        return None
    return strategy_id, version


def _apply(replay: _Replay, event: AuditEvent) -> None:
    target = _target(event)
    if target is None:
        replay.fail(event, "names no strategy version")
        return
    if event.subject != f"{target[0]}@{target[1]}":
        replay.fail(event, f"subject {event.subject!r} is not {target[0]}@{target[1]}")
    if event.action == StrategyAction.REGISTERED:
        previous = max((v for s, v in replay.registered if s == target[0]), default=0)
        if target[1] != previous + 1:
            replay.fail(event, f"registers version {target[1]} after version {previous}")
        replay.registered[target] = event
        return
    if target not in replay.registered:
        replay.fail(event, f"{event.action} of {target[0]}@{target[1]}, never registered before")
    if event.action == StrategyAction.TAGGED:
        tag = str(event.payload.get("tag"))
        before = replay.tags.get((target[0], tag))
        was = None if before is None else before.payload.get("version")
        if event.payload.get("moved_from") != was:
            replay.fail(
                event,
                f"says tag {tag!r} moved from version {event.payload.get('moved_from')}, "
                f"the log had it on {was}",
            )
        replay.tags[(target[0], tag)] = event
    elif event.action == StrategyAction.DEPRECATED:
        if target in replay.deprecated:
            replay.fail(event, f"deprecates {target[0]}@{target[1]} a second time")
        replay.deprecated[target] = event
    else:
        replay.fail(event, f"unknown action {event.action!r}")


def _differences(stored: dict[str, Any], logged: dict[str, Any]) -> list[str]:
    return [
        f"{name} stored {stored[name]!r}, logged {logged[name]!r}"
        for name in stored
        if stored[name] != logged[name]
    ]


def _check_versions(replay: _Replay, versions: Sequence[StoredVersion]) -> list[AuditBreak]:
    breaks = []
    seen: set[Key] = set()
    for row in versions:
        key = (row.strategy_id, row.version)
        seen.add(key)
        problems = _content_problems(row)
        event = replay.registered.get(key)
        if event is None:
            problems.append("no audit event registers it")
        else:
            payload = event.payload
            problems += _differences(
                {
                    "family": row.family,
                    "content_hash": row.content_hash,
                    "reason": row.reason,
                    "author": row.author,
                    "created_at_ns": row.created_at_ns,
                    "audit anchor": (row.audit_seq, row.audit_hash),
                },
                {
                    "family": payload.get("family"),
                    "content_hash": payload.get("content_hash"),
                    "reason": payload.get("reason"),
                    "author": event.actor,
                    "created_at_ns": event.at_ns,
                    "audit anchor": (event.seq, event.hash),
                },
            )
        breaks += [AuditBreak(f"version {row.ref}", problem) for problem in problems]
    for key, event in replay.registered.items():
        if key not in seen:
            breaks.append(
                AuditBreak(
                    f"version {key[0]}@{key[1]}",
                    f"registered by audit event {event.seq} but not stored (deleted)",
                    event.seq,
                )
            )
    return breaks


def _content_problems(row: StoredVersion) -> list[str]:
    """The content must hash to the stored content hash and agree with its own columns."""
    recomputed = hashlib.sha256(row.content.encode()).hexdigest()
    if recomputed != row.content_hash:
        return [
            f"content hashes to {recomputed[:12]}, stored content_hash {row.content_hash[:12]} "
            "(the content was edited)"
        ]
    try:
        content = json.loads(row.content)
    except ValueError:
        return ["content is not JSON"]
    columns = {"strategy_id": row.strategy_id, "family": row.family, "name": row.name}
    if not isinstance(content, dict):
        return ["content is not a JSON object"]
    return [
        f"{name} column {value!r}, its content says {content.get(name)!r}"
        for name, value in columns.items()
        if content.get(name) != value
    ]


def _check_tags(replay: _Replay, tags: Sequence[StoredTag]) -> list[AuditBreak]:
    breaks = []
    stored = {(t.strategy_id, t.tag): t for t in tags}
    for key in sorted(stored.keys() | replay.tags.keys()):
        where = f"tag {key[0]}@{key[1]}"
        row, event = stored.get(key), replay.tags.get(key)
        if event is None:
            assert row is not None
            breaks.append(AuditBreak(where, f"on version {row.version}; no audit event tags it"))
        elif row is None:
            breaks.append(
                AuditBreak(
                    where,
                    f"audit event {event.seq} puts it on version "
                    f"{event.payload.get('version')}; not stored (deleted)",
                    event.seq,
                )
            )
        else:
            problems = _differences(
                {"version": row.version, "actor": row.actor, "at_ns": row.at_ns},
                {
                    "version": event.payload.get("version"),
                    "actor": event.actor,
                    "at_ns": event.at_ns,
                },
            )
            breaks += [
                AuditBreak(where, f"{p} (audit event {event.seq})", event.seq) for p in problems
            ]
    return breaks


def _check_deprecations(
    replay: _Replay, deprecations: Sequence[StoredDeprecation]
) -> list[AuditBreak]:
    breaks = []
    stored = {(d.strategy_id, d.version): d for d in deprecations}
    for key in sorted(stored.keys() | replay.deprecated.keys()):
        where = f"deprecation of {key[0]}@{key[1]}"
        row, event = stored.get(key), replay.deprecated.get(key)
        if event is None:
            breaks.append(AuditBreak(where, "stored; no audit event deprecates it"))
        elif row is None:
            breaks.append(
                AuditBreak(
                    where, f"made by audit event {event.seq}; not stored (deleted)", event.seq
                )
            )
        else:
            problems = _differences(
                {"actor": row.actor, "reason": row.reason, "at_ns": row.at_ns},
                {
                    "actor": event.actor,
                    "reason": event.payload.get("reason"),
                    "at_ns": event.at_ns,
                },
            )
            breaks += [
                AuditBreak(where, f"{p} (audit event {event.seq})", event.seq) for p in problems
            ]
    return breaks
