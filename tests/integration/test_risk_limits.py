"""The portfolio's risk limits: versioned and audited in one transaction, SQLite and PostgreSQL."""

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.audit_search import SqlAuditSearch
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.risk_limit_store import SqlRiskLimitStore
from quantdesk.domain.correlation import correlated
from quantdesk.domain.errors import ConflictError, InvalidInputError
from quantdesk.domain.risk import RiskLimits
from quantdesk.domain.risk_limits import limits_hash
from quantdesk.services.audit_trail import AuditTrail
from quantdesk.services.ports.audit_trail import AuditFilter
from quantdesk.services.risk_limits import RiskLimitService
from support.registry import postgres_database, registry_on, sqlite_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    with postgres_database() as database_url:
        yield database_url


@pytest.fixture
def parts(url: str) -> Iterator[tuple[RiskLimitService, AuditTrail, Database]]:
    registry, _, database = registry_on(url)
    ticks = iter(range(1_000, 10**12, 1_000))
    service = RiskLimitService(SqlRiskLimitStore(database), lambda: next(ticks))
    trail = AuditTrail(SqlAuditLog(database), SqlAuditSearch(database), registry.verify_audit)
    yield service, trail, database
    database.dispose()


TIGHT = RiskLimits(
    max_gross_exposure=Decimal("100000"),
    max_drawdown_pct=Decimal("0.1"),
    allowed_instruments=frozenset({"B.SIM", "A.SIM"}),
)


def test_before_any_set_the_desk_has_version_0_without_limits(
    parts: tuple[RiskLimitService, AuditTrail, Database],
) -> None:
    service, _, _ = parts
    current = service.current()
    assert current.version == 0 and current.limits == RiskLimits()
    assert service.history() == ([], 0)


def test_set_makes_a_version_with_its_audit_event(
    parts: tuple[RiskLimitService, AuditTrail, Database],
) -> None:
    service, trail, _ = parts
    with correlated("req-7"):
        first = service.set(TIGHT, actor="tina", reason="desk opens")
    assert (first.version, first.actor, first.reason, first.correlation_id) == (
        1,
        "tina",
        "desk opens",
        "req-7",
    )
    assert service.current() == first
    assert first.limits == TIGHT and first.limits_hash == limits_hash(TIGHT)
    events, total = trail.query(AuditFilter(action="risk_limits_set"))
    assert total == 1
    payload = events[0].payload
    assert payload["version"] == 1 and payload["correlation_id"] == "req-7"
    assert payload["limits_hash"] == first.limits_hash
    assert isinstance(payload["limits"], dict)
    assert payload["limits"]["allowed_instruments"] == ["A.SIM", "B.SIM"]  # one spelling
    second = service.set(RiskLimits(max_leverage=Decimal(2)), actor="tom", reason="looser")
    assert second.version == 2
    history, total = service.history(limit=1)
    assert total == 2 and history == [second]
    assert service.history(limit=5, offset=1)[0] == [first]
    assert trail.verify() == (True, [])


def test_the_same_limits_again_change_nothing(
    parts: tuple[RiskLimitService, AuditTrail, Database],
) -> None:
    service, trail, _ = parts
    first = service.set(TIGHT, actor="tina", reason="one")
    again = service.set(TIGHT, actor="tom", reason="two")
    assert again == first
    assert trail.query()[1] == 1


def test_a_lost_update_is_refused(parts: tuple[RiskLimitService, AuditTrail, Database]) -> None:
    service, trail, _ = parts
    service.set(TIGHT, actor="tina", reason="one", expected_version=0)
    with pytest.raises(ConflictError) as refused:
        service.set(RiskLimits(), actor="tom", reason="stale", expected_version=0)
    assert refused.value.code == "risk_limits_changed"
    assert refused.value.data == {"current_version": 1, "expected_version": 0}
    assert service.current().version == 1 and trail.query()[1] == 1


def test_refusals_write_nothing(parts: tuple[RiskLimitService, AuditTrail, Database]) -> None:
    service, trail, _ = parts
    for actor, reason in (("tina", " "), ("", "why"), ("tina", "x" * 2001), ("a\nb", "why")):
        with pytest.raises(InvalidInputError):
            service.set(TIGHT, actor=actor, reason=reason)
    for limit, offset in ((0, 0), (1001, 0), (10, -1)):
        with pytest.raises(InvalidInputError):
            service.history(limit=limit, offset=offset)
    assert service.current().version == 0 and trail.query()[1] == 0


def test_concurrent_setters_get_distinct_versions(
    parts: tuple[RiskLimitService, AuditTrail, Database],
) -> None:
    service, trail, _ = parts
    errors: list[BaseException] = []

    def setter(n: int) -> None:
        try:
            service.set(RiskLimits(max_open_orders=n + 1), actor=f"u{n}", reason="race")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=setter, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions, total = service.history()
    assert total == 6 and sorted(v.version for v in versions) == [1, 2, 3, 4, 5, 6]
    assert trail.verify() == (True, [])
