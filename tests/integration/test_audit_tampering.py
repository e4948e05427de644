"""``audit verify`` against an attacker who edits the database with SQL (SQLite and PostgreSQL).

Each test makes a registry, checks that it verifies, tampers one way, and asserts the exact
break verify names. PostgreSQL tests skip without a server unless QUANTDESK_REQUIRE_SERVICES=1.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from quantdesk.adapters.schemas.json_schema import JsonSchemaChecker
from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.strategy_store import SqlStrategyStore
from quantdesk.domain.audit import AuditAnchor, AuditKey, event_hash
from quantdesk.services.registry import StrategyRegistry
from support.migrations import REVISIONS
from support.registry import postgres_database, sqlite_database, trend

KEY = AuditKey(b"k" * 32)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    with postgres_database() as database_url:
        yield database_url


class Desk:
    """A registry on ``url`` with optional key and run anchors, and SQL access to its tables."""

    def __init__(self, url: str, key: AuditKey | None = None) -> None:
        self.database = Database(url)
        self.anchors: list[tuple[str, AuditAnchor]] = []
        self.key = key
        self.registry = self.open(key)

    def open(self, key: AuditKey | None) -> StrategyRegistry:
        return StrategyRegistry(
            SqlStrategyStore(self.database, key),
            SqlAuditLog(self.database, key),
            JsonSchemaChecker(),
            key=key,
            anchors=lambda: self.anchors,
        )

    def sql(self, statement: str, **params: Any) -> None:
        with self.database.engine.begin() as connection:
            connection.execute(text(statement), params)

    def rows(self, statement: str) -> list[Any]:
        with self.database.engine.begin() as connection:
            return list(connection.execute(text(statement)))

    def breaks(self) -> list[str]:
        return [str(b) for b in self.registry.verify_audit().breaks]

    def reseal(self, seq: int, **changes: Any) -> str:
        """Rewrite event ``seq`` and recompute its own hash, as anyone can (no key)."""
        (row,) = self.rows(f"SELECT * FROM audit_events WHERE seq = {seq}")
        event = {**row._asdict(), **changes}
        payload = json.loads(event["payload"])
        digest = event_hash(
            event["seq"],
            event["at_ns"],
            event["actor"],
            event["action"],
            event["subject"],
            payload,
            event["prev_hash"],
        )
        self.sql(
            "UPDATE audit_events SET actor = :actor, payload = :payload, "
            "prev_hash = :prev_hash, hash = :hash WHERE seq = :seq",
            actor=event["actor"],
            payload=event["payload"],
            prev_hash=event["prev_hash"],
            hash=digest,
            seq=seq,
        )
        return digest

    def reseal_from(self, seq: int, **changes: Any) -> None:
        """Rewrite event ``seq`` and reseal every later one too (and the head): a full forgery."""
        digest = self.reseal(seq, **changes)
        (last,) = self.rows("SELECT max(seq) FROM audit_events")[0]
        for later in range(seq + 1, last + 1):
            digest = self.reseal(later, prev_hash=digest)
        self.sql("UPDATE audit_head SET seq = :seq, hash = :hash", seq=last, hash=digest)

    def close(self) -> None:
        self.database.dispose()


@pytest.fixture
def desk(url: str) -> Iterator[Desk]:
    desk = Desk(url)
    _history(desk.registry)
    assert desk.breaks() == []
    yield desk
    desk.close()


def _history(registry: StrategyRegistry) -> None:
    """Events: 1 trend-a@1, 2 trend-a@2, 3 tag live on 1, 4 tag live moved to 2, 5 deprecate 1."""
    registry.register(trend(trade_size="0.01"), "alice", "small")
    registry.register(trend(trade_size="0.02"), "alice", "bigger")
    registry.tag("trend-a", 1, "live", "bob")
    registry.tag("trend-a", 2, "live", "bob")
    registry.deprecate("trend-a", 1, "bob", "superseded")


def test_content_edited_under_its_old_hash_is_found(desk: Desk) -> None:
    desk.sql(
        "UPDATE strategy_versions SET content = REPLACE(content, "
        '\'"trade_size":"0.01"\', \'"trade_size":"100"\') WHERE version = 1'
    )
    assert desk.registry.get("trend-a", 1).definition.parameters.model_dump()["trade_size"] == 100
    (broken,) = desk.breaks()
    assert broken.startswith("version trend-a@1: content hashes to ")
    assert "(the content was edited)" in broken


def test_content_and_its_hash_edited_together_is_found(desk: Desk) -> None:
    (content,) = desk.rows("SELECT content FROM strategy_versions WHERE version = 1")[0]
    import hashlib

    forged = content.replace('"trade_size":"0.01"', '"trade_size":"100"')
    desk.sql(
        "UPDATE strategy_versions SET content = :c, content_hash = :h WHERE version = 1",
        c=forged,
        h=hashlib.sha256(forged.encode()).hexdigest(),
    )
    (broken,) = desk.breaks()
    assert broken.startswith("version trend-a@1: content_hash stored ")


def test_a_moved_tag_is_found(desk: Desk) -> None:
    desk.sql("UPDATE strategy_tags SET version = 1 WHERE tag = 'live'")
    assert desk.breaks() == ["tag trend-a@live: version stored 1, logged 2 (audit event 4)"]


def test_a_deleted_or_invented_tag_is_found(desk: Desk) -> None:
    desk.sql("DELETE FROM strategy_tags")
    desk.sql(
        "INSERT INTO strategy_tags (strategy_id, tag, version, actor, at_ns) "
        "VALUES ('trend-a', 'paper', 1, 'mallory', 0)"
    )
    assert desk.breaks() == [
        "tag trend-a@live: audit event 4 puts it on version 2; not stored (deleted)",
        "tag trend-a@paper: on version 1; no audit event tags it",
    ]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("reason", "'nothing'", "reason stored 'nothing', logged 'superseded'"),
        ("actor", "'mallory'", "actor stored 'mallory', logged 'bob'"),
        ("at_ns", "at_ns + 1", "at_ns stored "),
    ],
)
def test_a_changed_deprecation_is_found(desk: Desk, column: str, value: str, expected: str) -> None:
    desk.sql(f"UPDATE strategy_deprecations SET {column} = {value}")
    (broken,) = desk.breaks()
    assert broken.startswith(f"deprecation of trend-a@1: {expected}")


def test_a_removed_deprecation_is_found(desk: Desk) -> None:
    desk.sql("DELETE FROM strategy_deprecations")
    assert desk.breaks() == [
        "deprecation of trend-a@1: made by audit event 5; not stored (deleted)"
    ]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("author", "'mallory'", "author stored 'mallory', logged 'alice'"),
        ("reason", "'other'", "reason stored 'other', logged 'bigger'"),
        ("created_at_ns", "created_at_ns + 1", "created_at_ns stored "),
        ("name", "'renamed'", "name column 'renamed', its content says 'trend'"),
        ("family", "'momentum_rotation'", "family column 'momentum_rotation', its content"),
        ("audit_seq", "1", "audit anchor stored (1, "),
    ],
)
def test_a_changed_bookkeeping_column_is_found(
    desk: Desk, column: str, value: str, expected: str
) -> None:
    desk.sql(f"UPDATE strategy_versions SET {column} = {value} WHERE version = 2")
    assert any(b.startswith(f"version trend-a@2: {expected}") for b in desk.breaks())


def test_an_event_rewritten_and_resealed_breaks_the_next_link(desk: Desk) -> None:
    """Only the prev_hash link can see this: the rewritten event's own hash is valid."""
    desk.reseal(3, actor="mallory")
    (broken,) = desk.breaks()
    assert broken.startswith("audit event 4: prev_hash ")
    assert "is not the hash of the event stored before it" in broken


def test_a_deleted_middle_event_is_a_gap_and_a_broken_link(desk: Desk) -> None:
    desk.sql("DELETE FROM audit_events WHERE seq = 3")
    breaks = desk.breaks()
    assert breaks[0] == "audit event 4: events 3..3 are missing"
    assert breaks[1].startswith("audit event 4: prev_hash ")
    assert "audit event 4: says tag 'live' moved from version 1, the log had it on None" in breaks


def test_a_deleted_event_with_later_ones_renumbered_breaks_the_link(desk: Desk) -> None:
    desk.sql("DELETE FROM audit_events WHERE seq = 3")
    for seq in (4, 5):
        desk.sql(f"UPDATE audit_events SET seq = {seq - 1} WHERE seq = {seq}")
        desk.reseal(seq - 1)
    breaks = desk.breaks()
    assert breaks[0].startswith("audit event 3: prev_hash ")


def test_reordered_events_break_the_links(desk: Desk) -> None:
    """Events 3 and 4 swap places, each resealed under its new number."""
    rows = {r.seq: r for r in desk.rows("SELECT * FROM audit_events WHERE seq IN (3, 4)")}
    for seq, other in ((3, 4), (4, 3)):
        source = rows[other]
        desk.sql(
            "UPDATE audit_events SET actor = :actor, action = :action, subject = :subject, "
            "payload = :payload, at_ns = :at_ns, hash = :tmp WHERE seq = :seq",
            actor=source.actor,
            action=source.action,
            subject=source.subject,
            payload=source.payload,
            at_ns=source.at_ns,
            tmp=f"{seq:064d}",
            seq=seq,
        )
    desk.reseal(3)
    desk.reseal(4)
    breaks = desk.breaks()
    assert any(b.startswith("audit event 5: prev_hash ") for b in breaks)
    assert any("moved from version 1, the log had it on None" in b for b in breaks)


def test_truncated_newest_events_are_found_by_the_head(desk: Desk) -> None:
    desk.sql("DELETE FROM strategy_deprecations")
    desk.sql("DELETE FROM audit_events WHERE seq = 5")
    (broken,) = desk.breaks()
    assert broken.startswith("audit head: records event 5 (")
    assert "the newest stored is event 4" in broken


def test_truncation_with_a_rewritten_head_is_found_by_a_run_anchor(desk: Desk) -> None:
    desk.anchors = [("run r1", desk.registry.audit_head())]
    assert desk.anchors[0][1].seq == 5 and desk.breaks() == []
    desk.sql("DELETE FROM strategy_deprecations")
    desk.sql("DELETE FROM audit_events WHERE seq = 5")
    (seq, digest) = desk.rows("SELECT seq, hash FROM audit_events WHERE seq = 4")[0]
    desk.sql("UPDATE audit_head SET seq = :seq, hash = :hash", seq=seq, hash=digest)
    assert desk.breaks() == [
        "run r1: recorded the log at event 5; it now ends at event 4 (newest events removed)"
    ]


def test_a_fully_resealed_chain_is_found_by_the_version_and_run_anchors(desk: Desk) -> None:
    desk.anchors = [("run r1", desk.registry.audit_head())]
    desk.reseal_from(2, actor="mallory")
    breaks = desk.breaks()
    assert not any(b.startswith("audit event") for b in breaks)  # the chain itself holds
    assert any(
        b.startswith("version trend-a@2: author stored 'alice', logged 'mallory'") for b in breaks
    )
    assert any(b.startswith("version trend-a@2: audit anchor stored (2, ") for b in breaks)
    assert any(b.startswith("run r1: recorded event 5 as ") for b in breaks)


def test_a_keyed_chain_cannot_be_resealed_without_the_key(url: str) -> None:
    desk = Desk(url, KEY)
    _history(desk.registry)
    assert desk.breaks() == []
    desk.reseal_from(2, actor="mallory")
    desk.sql(
        "UPDATE strategy_versions SET author = 'mallory', audit_hash = (SELECT hash FROM "
        "audit_events WHERE seq = 2) WHERE version = 2"
    )
    breaks = desk.breaks()
    for seq in (2, 3, 4, 5):
        assert (
            f"audit event {seq}: its seal does not match the audit key (resealed without "
            "the key, or another key)" in breaks
        )
    assert "audit head: its seal does not match the audit key (rewritten)" in breaks
    unkeyed = desk.open(None)  # the same forgery passes every check that needs no key
    assert unkeyed.verify_audit().breaks == []
    desk.close()


def test_a_keyed_chain_finds_truncation_without_any_anchor(url: str) -> None:
    desk = Desk(url, KEY)
    _history(desk.registry)
    desk.sql("DELETE FROM strategy_deprecations")
    desk.sql("DELETE FROM audit_events WHERE seq = 5")
    (seq, digest) = desk.rows("SELECT seq, hash FROM audit_events WHERE seq = 4")[0]
    desk.sql("UPDATE audit_head SET seq = :seq, hash = :hash, mac = NULL", seq=seq, hash=digest)
    assert desk.breaks() == ["audit head: its seal does not match the audit key (rewritten)"]
    assert desk.open(None).verify_audit().breaks == []  # what an unkeyed log cannot see
    desk.close()


def test_events_written_without_the_key_are_reported_once_it_is_set(url: str) -> None:
    desk = Desk(url)
    _history(desk.registry)
    keyed = desk.open(KEY)
    breaks = [str(b) for b in keyed.verify_audit().breaks]
    assert "audit event 1: carries no seal of the audit key" in breaks
    desk.close()


def test_a_registry_from_revision_0001_is_anchored_by_the_upgrade(url: str) -> None:
    """Versions written before 0002 get their event's (seq, hash), the head its last event."""
    from alembic import command
    from alembic.config import Config

    from quantdesk.adapters.storage.database import MIGRATIONS
    from quantdesk.domain.audit import GENESIS_HASH, seal

    database = Database(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    definition = trend()
    payload: dict[str, Any] = {
        "strategy_id": "trend-a",
        "version": 1,
        "family": "trend_following",
        "content_hash": definition.content_hash,
        "reason": "",
    }
    event = seal(1, 7, "alice", "strategy_registered", "trend-a@1", payload, GENESIS_HASH)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO strategy_versions (strategy_id, version, family, name, content_hash,"
                " content, author, created_at_ns, reason) VALUES ('trend-a', 1,"
                " 'trend_following', 'trend', :h, :c, 'alice', 7, '')"
            ),
            {"h": definition.content_hash, "c": definition.canonical_json},
        )
        connection.execute(
            text(
                "INSERT INTO audit_events (seq, at_ns, actor, action, subject, payload,"
                " prev_hash, hash) VALUES (1, 7, 'alice', 'strategy_registered', 'trend-a@1',"
                " :p, :prev, :h)"
            ),
            {"p": json.dumps(payload), "prev": GENESIS_HASH, "h": event.hash},
        )
    desk = Desk(url)
    assert desk.database.upgrade() == REVISIONS[1:]
    assert desk.rows("SELECT audit_seq, audit_hash FROM strategy_versions") == [(1, event.hash)]
    assert desk.breaks() == []
    desk.registry.register(trend(fast_period=3), "bob")
    assert desk.breaks() == []
    database.dispose()
    desk.close()
