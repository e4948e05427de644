"""Feature flags on the database: versions, audit in the same transaction, revert, decisions.

Run on SQLite and PostgreSQL.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.audit_search import SqlAuditSearch
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.flag_store import SqlFlagStore
from quantdesk.domain.auth import Principal, Role
from quantdesk.domain.correlation import correlated
from quantdesk.domain.errors import (
    ConflictError,
    FeatureDisabledError,
    InvalidInputError,
    NotFoundError,
)
from quantdesk.domain.feature_flags import FlagOutcome, FlagUpdate
from quantdesk.services.audit_trail import AuditTrail
from quantdesk.services.feature_flags import FeatureFlagService
from quantdesk.services.ports.audit_trail import AuditFilter
from support.registry import postgres_database, registry_on, sqlite_database

Parts = tuple[FeatureFlagService, AuditTrail, Database]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    with postgres_database() as database_url:
        yield database_url


@pytest.fixture
def parts(url: str) -> Iterator[Parts]:
    registry, _, database = registry_on(url)
    ticks = iter(range(1_000, 10**12, 1_000))
    service = FeatureFlagService(
        SqlFlagStore(database), environment="staging", clock=lambda: next(ticks), max_flags=5
    )
    trail = AuditTrail(SqlAuditLog(database), SqlAuditSearch(database), registry.verify_audit)
    yield service, trail, database
    database.dispose()


def _principal(role: Role = Role.researcher, user_id: str = "u-1") -> Principal:
    return Principal(user_id=user_id, username="ann", role=role, via="token")


def test_a_new_desk_has_the_seeded_flags_at_version_0(parts: Parts) -> None:
    service, trail, _ = parts
    flags = {flag.name: flag for flag in service.flags()}
    assert sorted(flags) == ["live_trading", "signals_http_ingest", "strategy_export"]
    assert not flags["live_trading"].enabled
    assert flags["signals_http_ingest"].enabled and flags["strategy_export"].enabled
    assert {flag.version for flag in flags.values()} == {0}
    assert service.history("live_trading") == ([flags["live_trading"]], 1)
    assert trail.query()[1] == 0  # nothing written to have them


def test_a_change_is_a_new_version_audited_and_applies_at_once(parts: Parts) -> None:
    service, trail, _ = parts
    ann = _principal()
    with pytest.raises(FeatureDisabledError) as refused:
        service.require("live_trading", ann)
    assert refused.value.data == {"flag": "live_trading", "outcome": "disabled"}
    with correlated("req-9"):
        on = service.set("live_trading", FlagUpdate(enabled=True, reason="go live"), actor="admin")
    assert (on.version, on.enabled, on.updated_by, on.correlation_id) == (1, True, "admin", "req-9")
    assert on.description == "start and control paper/live trading sessions"  # kept
    service.require("live_trading", ann)  # the very next check sees it
    events, total = trail.query(AuditFilter(action="feature_flag_set"))
    assert total == 1
    assert events[0].subject == "flag:live_trading" and events[0].actor == "admin"
    assert events[0].payload["version"] == 1 and events[0].payload["enabled"] is True
    assert events[0].payload["correlation_id"] == "req-9"
    assert trail.verify() == (True, [])


def test_the_same_settings_again_change_nothing(parts: Parts) -> None:
    service, trail, _ = parts
    first = service.set("strategy_export", FlagUpdate(enabled=False), actor="admin")
    again = service.set("strategy_export", FlagUpdate(enabled=False), actor="root")
    assert again == first and trail.query()[1] == 1


def test_history_pages_newest_first_and_revert_restores_an_earlier_version(
    parts: Parts,
) -> None:
    service, trail, _ = parts
    service.set("signals_http_ingest", FlagUpdate(rollout_percent=50), actor="admin")
    service.set("signals_http_ingest", FlagUpdate(allowed_roles=(Role.admin,)), actor="admin")
    history, total = service.history("signals_http_ingest")
    assert total == 3 and [flag.version for flag in history] == [2, 1, 0]
    assert [f.version for f in service.history("signals_http_ingest", limit=2)[0]] == [2, 1]
    assert [f.version for f in service.history("signals_http_ingest", offset=2)[0]] == [0]
    back = service.revert("signals_http_ingest", 1, actor="admin")
    assert (back.version, back.reverted_from, back.rollout_percent) == (3, 1, 50)
    assert back.allowed_roles == () and back.reason == "revert to version 1"
    default = service.revert("signals_http_ingest", 0, actor="admin", reason="as shipped")
    assert (default.version, default.rollout_percent, default.reason) == (4, 100, "as shipped")
    assert trail.query(AuditFilter(action="feature_flag_reverted"))[1] == 2
    with pytest.raises(NotFoundError) as missing:
        service.revert("signals_http_ingest", 99, actor="admin")
    assert missing.value.code == "flag_version_not_found"


def test_roles_environments_and_rollout_decide(parts: Parts) -> None:
    service, _, _ = parts
    service.set(
        "beta_ui",
        FlagUpdate(enabled=True, allowed_roles=(Role.trader, Role.admin), description="new UI"),
        actor="admin",
    )
    assert service.evaluate("beta_ui", user_id="u-1", role=Role.trader)
    assert service.decide("beta_ui", user_id="u-1", role=Role.viewer).outcome is FlagOutcome.role
    service.set("beta_ui", FlagUpdate(environments=("production",)), actor="admin")
    decision = service.decide("beta_ui", user_id="u-1", role=Role.trader)
    assert decision.outcome is FlagOutcome.environment and not decision.on
    service.set("beta_ui", FlagUpdate(environments=("production", "staging")), actor="admin")
    assert service.evaluate("beta_ui", user_id="u-1", role=Role.trader)
    service.set("beta_ui", FlagUpdate(rollout_percent=0), actor="admin")
    assert service.decide("beta_ui", user_id="u-1", role=Role.admin).outcome is FlagOutcome.rollout
    service.set("beta_ui", FlagUpdate(rollout_percent=100), actor="admin")
    assert service.evaluate("beta_ui", user_id="u-1", role=Role.admin)


def test_a_lost_update_is_refused_and_refusals_write_nothing(parts: Parts) -> None:
    service, trail, _ = parts
    service.set("live_trading", FlagUpdate(enabled=True), actor="admin", expected_version=0)
    with pytest.raises(ConflictError) as stale:
        service.set("live_trading", FlagUpdate(enabled=False), actor="bob", expected_version=0)
    assert stale.value.code == "flag_changed"
    assert stale.value.data == {"flag": "live_trading", "current_version": 1, "expected_version": 0}
    for bad in ("Live", "", "x" * 64, "a-b", "ä"):
        with pytest.raises(InvalidInputError):
            service.set(bad, FlagUpdate(enabled=True), actor="admin")
    for update in (
        {"rollout_percent": 101},
        {"environments": ("Prod",)},
        {"description": "x" * 501},
        {"description": "bell\x07"},
        {"allowed_roles": ("root",)},
    ):
        with pytest.raises((ValueError, InvalidInputError)):  # at the model or the service
            service.set("live_trading", FlagUpdate.model_validate(update), actor="admin")
    with pytest.raises(InvalidInputError):
        service.set("live_trading", FlagUpdate(enabled=False), actor="a\nb")
    with pytest.raises(NotFoundError) as unknown:
        service.get("nope")
    assert unknown.value.code == "flag_not_found"
    with pytest.raises(NotFoundError):
        service.history("nope")
    with pytest.raises(InvalidInputError):
        service.evaluate("live_trading", user_id="", role=Role.admin)
    assert trail.query()[1] == 1


def test_the_number_of_flags_is_bounded(parts: Parts) -> None:
    service, _, _ = parts
    for n in range(5):
        service.set(f"f{n}", FlagUpdate(enabled=True), actor="admin")
    with pytest.raises(ConflictError) as full:
        service.set("f5", FlagUpdate(enabled=True), actor="admin")
    assert full.value.code == "too_many_flags"
    assert service.set("f4", FlagUpdate(enabled=False), actor="admin").version == 2


def test_concurrent_writers_get_distinct_versions(parts: Parts) -> None:
    service, trail, _ = parts
    errors: list[BaseException] = []

    def setter(n: int) -> None:
        try:
            service.set("strategy_export", FlagUpdate(rollout_percent=n), actor=f"u{n}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=setter, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history, total = service.history("strategy_export")
    assert total == 5 and sorted(f.version for f in history) == [0, 1, 2, 3, 4]
    assert trail.verify() == (True, [])
