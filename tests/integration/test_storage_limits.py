"""The same limits on both databases: refused before the database sees the value, alike.

Issue 12 item 6: PostgreSQL refused a 64-character id, a 300-character author and a NUL in a
name with a raw ``DataError`` while SQLite stored them. Each case here runs on SQLite and on
PostgreSQL and must give the same clear error and store nothing (no version, no audit event).
PostgreSQL tests skip when no server listens on 127.0.0.1:5432, unless
QUANTDESK_REQUIRE_SERVICES=1.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.database import Database, DatabaseError
from quantdesk.adapters.storage.strategy_store import SqlStrategyStore
from quantdesk.adapters.storage.tables import StrategyTagRow
from quantdesk.domain.errors import InvalidInputError, NotFoundError, QuantdeskError
from quantdesk.domain.strategies.problems import InvalidDefinitionError, parse_definition
from quantdesk.domain.strategies.versions import VERSION_MAX
from quantdesk.services.registry import StrategyRegistry
from support.registry import postgres_database, registry_on, sqlite_database, trend

Setup = tuple[StrategyRegistry, SqlStrategyStore, Database]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    if request.param == "sqlite":
        url_context = None
        url = sqlite_database(tmp_path)
    else:
        url_context = postgres_database()
        url = url_context.__enter__()
    registry, store, database = registry_on(url)
    try:
        yield registry, store, database
    finally:
        database.dispose()
        if url_context is not None:
            url_context.__exit__(None, None, None)


def nothing_stored(registry: StrategyRegistry) -> None:
    assert registry.list() == []
    assert registry.audit_events() == []


def refusal(action: Callable[[], object]) -> str:
    """The error's text; it must be one of quantdesk's own (never a driver's)."""
    with pytest.raises(QuantdeskError) as caught:
        action()
    return str(caught.value)


def test_a_64_character_id_is_refused_alike(desk: Setup) -> None:
    registry, _, _ = desk
    with pytest.raises(InvalidDefinitionError, match="not a slug"):
        registry.register(trend("a" * 63 + "\n"), "alice")
    with pytest.raises(InvalidDefinitionError, match="not a slug"):
        registry.register(trend("a" * 64), "alice")
    nothing_stored(registry)


def test_a_300_character_author_is_refused_alike(desk: Setup) -> None:
    registry, _, _ = desk
    message = refusal(lambda: registry.register(trend(), "a" * 300))
    assert "author/actor" in message and "at most 200 characters" in message
    assert len(message) < 300
    nothing_stored(registry)


def test_a_nul_in_a_name_is_refused_alike(desk: Setup) -> None:
    registry, _, _ = desk
    with pytest.raises(InvalidDefinitionError, match="name: 'a\\\\x00b' contains the character"):
        parse_definition({**trend().content(), "name": "a\x00b"})
    # past the model (an unvalidated copy): the store's own column check refuses it
    unchecked = trend().model_copy(update={"name": "a\x00b"})
    message = refusal(lambda: registry.register(unchecked, "alice"))
    assert message.startswith("strategy_versions.name: the character '\\x00' at position 1")
    nothing_stored(registry)


def test_an_overlong_name_past_the_model_is_refused_by_the_store(desk: Setup) -> None:
    registry, _, _ = desk
    unchecked = trend().model_copy(update={"name": "n" * 201})
    message = refusal(lambda: registry.register(unchecked, "alice"))
    assert message.startswith("strategy_versions.name: 201 characters is too long; at most 200")
    nothing_stored(registry)


def test_tags_and_deprecations_refuse_bad_actors_and_reasons_alike(desk: Setup) -> None:
    registry, store, _ = desk
    stored = registry.register(trend(), "alice").stored
    events = len(registry.audit_events())
    with pytest.raises(InvalidInputError, match="at most 200 characters"):
        registry.tag(stored.strategy_id, 1, "live", "b" * 300)
    with pytest.raises(InvalidInputError, match="control character"):
        registry.deprecate(stored.strategy_id, 1, "bob", "nul\x00reason")
    with pytest.raises(InvalidInputError, match="at most 2000"):
        store.deprecate(stored.strategy_id, 1, actor="bob", reason="r" * 5000, at_ns=1)
    assert registry.get(stored.strategy_id).tags == ()
    assert registry.get(stored.strategy_id).deprecation is None
    assert len(registry.audit_events()) == events


def test_the_audit_log_refuses_what_its_columns_cannot_hold(desk: Setup) -> None:
    registry, _, database = desk
    audit = SqlAuditLog(database)
    message = refusal(lambda: audit.append("a" * 300, "kill_switch_thrown", "portfolio", {}, 1))
    assert message.startswith("audit_events.actor: 300 characters is too long; at most 200")
    message = refusal(lambda: audit.append("alice", "x\x00", "portfolio", {}, 1))
    assert message.startswith("audit_events.action: the character '\\x00'")
    assert registry.audit_events() == []


@pytest.mark.parametrize("version", [VERSION_MAX + 1, 10**23, 0, -1])
def test_versions_past_the_column_are_simply_not_registered(desk: Setup, version: int) -> None:
    registry, store, _ = desk
    registry.register(trend(), "alice")
    assert store.get("trend-a", version) is None
    assert store.stored_content("trend-a", version) is None
    with pytest.raises(NotFoundError):
        registry.get("trend-a", version)
    with pytest.raises(NotFoundError):
        registry.tag("trend-a", version, "live", "alice")
    message = refusal(lambda: registry.resolve("trend-a@99999999999999999999999"))
    assert "not a version number: 1 to 2147483647" in message


def test_reads_with_ids_no_row_can_have_find_nothing(desk: Setup) -> None:
    registry, store, _ = desk
    registry.register(trend(), "alice")
    for odd in ("trend-a\x00", "a" * 1000, "trend-a\n"):
        assert store.get(odd) is None
        assert store.versions(odd) == []
        assert store.tagged(odd, "live") is None


def test_a_write_the_database_refuses_is_one_clear_line(desk: Setup) -> None:
    registry, _, database = desk
    orphan = StrategyTagRow(strategy_id="none", tag="live", version=1, actor="alice", at_ns=1)
    with pytest.raises(DatabaseError) as caught:
        database.write(lambda session: session.add(orphan) or session.flush())
    message = str(caught.value)
    assert message.startswith("the database refused the write: ")
    assert "INSERT" not in message and "\n" not in message  # no SQL, no parameters
    assert registry.audit_events() == []


def test_a_value_only_postgresql_refuses_is_a_clear_error(desk: Setup) -> None:
    _, _, database = desk
    if database.dialect != "postgresql":
        pytest.skip("SQLite casts anything")
    with pytest.raises(InvalidInputError, match=r"^the database refused a value: "):
        database.write(lambda session: session.execute(text("SELECT CAST('x' AS INTEGER)")))
    with (
        pytest.raises(InvalidInputError, match=r"^the database refused a value: "),
        database.reading() as session,
    ):
        session.execute(text("SELECT CAST('x' AS INTEGER)"))
