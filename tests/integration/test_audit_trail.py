"""The service's audit trail on the registry's chain, on SQLite and on PostgreSQL."""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.audit_search import SqlAuditSearch
from quantdesk.adapters.storage.database import Database
from quantdesk.domain.correlation import correlated
from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.audit_trail import AuditTrail
from quantdesk.services.ports.audit_trail import AuditFilter
from quantdesk.services.registry import StrategyRegistry
from support.registry import postgres_database, registry_on, sqlite_database, trend


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    with postgres_database() as database_url:
        yield database_url


@pytest.fixture
def desk(url: str) -> Iterator[tuple[AuditTrail, StrategyRegistry, Database]]:
    registry, _, database = registry_on(url)
    ticks = iter(range(1_000, 10**9, 1_000))
    trail = AuditTrail(
        SqlAuditLog(database), SqlAuditSearch(database), registry.verify_audit, lambda: next(ticks)
    )
    yield trail, registry, database
    database.dispose()


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_a_request_event_is_chained_with_the_registry_and_verifies(
    desk: tuple[AuditTrail, StrategyRegistry, Database],
) -> None:
    trail, registry, _ = desk
    with correlated("req-1"):
        registry.register(trend(), "alice", "first")
        trail.record(
            actor="alice",
            action="POST /api/v1/strategies",
            subject="trend-a",
            outcome="201",
            payload_digest=digest(b"{}"),
            correlation_id=None,
        )
    events, total = trail.query()
    assert total == 2
    registered, request = events
    assert registered.action == "strategy_registered"
    assert registered.payload["correlation_id"] == "req-1"
    assert request.payload == {
        "outcome": "201",
        "payload_digest": digest(b"{}"),
        "correlation_id": "req-1",
    }
    assert request.prev_hash == registered.hash
    assert trail.verify() == (True, [])


def test_filters_and_paging(desk: tuple[AuditTrail, StrategyRegistry, Database]) -> None:
    trail, _, _ = desk
    for n in range(7):
        trail.record(
            actor="alice" if n % 2 else "bob",
            action="risk_limits_set" if n < 3 else "kill_switch_thrown",
            subject=f"portfolio/{n}",
            outcome="ok",
            payload_digest=None,
            correlation_id=f"c{n}",
        )
    page, total = trail.query(AuditFilter(actor="alice"), limit=2, offset=1)
    assert total == 3 and [e.seq for e in page] == [4, 6]
    page, total = trail.query(AuditFilter(action="risk_limits_set"))
    assert total == 3 and [e.subject for e in page] == ["portfolio/0", "portfolio/1", "portfolio/2"]
    page, total = trail.query(AuditFilter(after_seq=5))
    assert [e.seq for e in page] == [6, 7] and total == 2
    page, total = trail.query(AuditFilter(since_ns=2_000, until_ns=4_000))  # until exclusive
    assert [e.at_ns for e in page] == [2_000, 3_000]
    page, total = trail.query(AuditFilter(subject="portfolio/6"))
    assert [e.seq for e in page] == [7]
    _, total = trail.query(AuditFilter(subject="portfolio%"))  # a LIKE wildcard is literal
    assert total == 0


def test_hostile_fields_are_refused_before_anything_is_written(
    desk: tuple[AuditTrail, StrategyRegistry, Database],
) -> None:
    trail, _, _ = desk
    good = {
        "actor": "alice",
        "action": "x",
        "subject": "s",
        "outcome": "ok",
        "payload_digest": None,
        "correlation_id": None,
    }
    bad: list[dict[str, object]] = [
        {"payload_digest": "password=hunter2"},  # only a sha256 digest, never a value
        {"action": "strategy_registered"},  # the registry's own
        {"action": "a" * 61},
        {"action": ""},
        {"outcome": "OK; drop"},
        {"correlation_id": "not an id!"},
        {"actor": " "},
    ]
    for change in bad:
        with pytest.raises(InvalidInputError):
            trail.record(**{**good, **change})  # type: ignore[arg-type]
    assert trail.query() == ([], 0)
    for query in (
        AuditFilter(after_seq=-1),
        AuditFilter(since_ns=-5),
        AuditFilter(actor="a" * 201),
    ):
        with pytest.raises(InvalidInputError):
            trail.query(query)
    with pytest.raises(InvalidInputError):
        trail.query(limit=0)
    with pytest.raises(InvalidInputError):
        trail.query(offset=-1)


def test_a_changed_request_event_breaks_verify(
    desk: tuple[AuditTrail, StrategyRegistry, Database],
) -> None:
    trail, _, database = desk
    trail.record(
        actor="mallory",
        action="POST /api/v1/risk/kill-switch/release",
        subject="portfolio",
        outcome="200",
        payload_digest=None,
        correlation_id="c1",
    )
    trail.record_change(
        actor="mallory", action="kill_switch_released", subject="portfolio", details={"scope": "x"}
    )
    assert trail.verify()[0]
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'alice' WHERE seq = 1"))
    holds, breaks = trail.verify()
    assert not holds
    assert [b.seq for b in breaks] == [1]
    assert trail.report().events == 2


def test_a_hostile_request_path_is_audited_escaped_and_cut(
    desk: tuple[AuditTrail, StrategyRegistry, Database],
) -> None:
    trail, _, _ = desk
    for path in ("/api/v1/x\n/forged 200 ok", "/" + "y" * 5000, "/z\u202e "):
        trail.record(
            actor="eve",
            action="http-unmatched",
            subject=path,
            outcome="404",
            payload_digest=None,
            correlation_id=None,
        )
    subjects = [event.subject for event in trail.query()[0]]
    assert subjects[0] == "/api/v1/x\\n/forged 200 ok"
    assert len(subjects[1]) == 200 and subjects[1].endswith("...")
    assert subjects[2] == "/z\\u202e"
    with pytest.raises(InvalidInputError):  # a service's own change names a clean subject
        trail.record_change(actor="eve", action="x", subject="a\nb", details={})
