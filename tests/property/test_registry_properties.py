"""Property 12: versions and audit data survive, whatever sequence of changes is made."""

import json
import shutil
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from quantdesk.adapters.storage.database import Database
from quantdesk.services.registry import StrategyRegistry
from support.registry import registry_on, sqlite_database, trend

IDS = ("alpha", "beta")
Op = tuple[str, str, int, int]  # (kind, strategy id, parameter or version pick, tag pick)

operations = st.lists(
    st.tuples(
        st.sampled_from(["register", "register", "deprecate", "tag"]),
        st.sampled_from(IDS),
        st.integers(min_value=2, max_value=8),
        st.integers(min_value=0, max_value=2),
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty database file, copied for each example (migrating costs most)."""
    folder = tmp_path_factory.mktemp("template")
    database = Database(sqlite_database(folder))
    database.upgrade()
    database.dispose()
    return folder / "quantdesk.db"


# Property 12: for random register/update/deprecate/tag sequences the history is complete,
# versions are 1..n without gaps, every stored definition is byte-identical to what was
# registered, the audit chain verifies, and tampering with any audit row is detected.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=operations,
    tamper_pick=st.integers(min_value=0),
    field=st.sampled_from(["actor", "action", "subject", "payload", "at_ns", "prev_hash", "hash"]),
)
def test_history_versions_bytes_and_audit_hold(
    migrated: Path, ops: list[Op], tamper_pick: int, field: str
) -> None:
    with TemporaryDirectory() as folder:
        shutil.copy(migrated, Path(folder) / "quantdesk.db")
        registry, store, database = registry_on(sqlite_database(Path(folder)))
        registered: dict[str, list[str]] = {}  # id -> canonical JSON per version
        events = 0
        for kind, strategy_id, pick, tag_pick in [("register", "alpha", 5, 0), *ops]:
            versions = registered.get(strategy_id, [])
            if kind == "register":
                definition = trend(strategy_id, fast_period=pick)
                result = registry.register(definition, "tester", f"fast {pick}")
                if versions and versions[-1] == definition.canonical_json:
                    assert not result.created and result.stored.version == len(versions)
                else:
                    assert result.created and result.stored.version == len(versions) + 1
                    registered.setdefault(strategy_id, []).append(definition.canonical_json)
                    events += 1
            elif versions:
                version = 1 + pick % len(versions)
                before = len(registry.audit_events())
                if kind == "deprecate":
                    registry.deprecate(strategy_id, version, "tester", "old")
                else:
                    registry.tag(
                        strategy_id, version, ("validated", "live", "paper")[tag_pick], "t"
                    )
                events += len(registry.audit_events()) - before

        for strategy_id, contents in registered.items():
            history = registry.history(strategy_id)
            assert [v.version for v in history] == list(range(1, len(contents) + 1))
            for stored, content in zip(history, contents, strict=True):
                assert stored.definition.canonical_json == content
                assert store.stored_content(strategy_id, stored.version) == content
        log = registry.audit_events()
        assert [e.seq for e in log] == list(range(1, events + 1))
        assert registry.verify_audit().breaks == []

        target = log[tamper_pick % len(log)]
        with database.engine.begin() as connection:
            connection.execute(
                text(f"UPDATE audit_events SET {field} = :value WHERE seq = :seq"),
                {"value": _tampered(field, getattr(target, field)), "seq": target.seq},
            )
        breaks = registry.verify_audit().breaks
        assert breaks and breaks[0].seq is not None and breaks[0].seq <= target.seq + 1
        database.dispose()


def _tampered(field: str, value: object) -> object:
    if field == "at_ns":
        return int(str(value)) + 1
    if field == "payload":
        return json.dumps({**dict(value), "extra": 1}, sort_keys=True)  # type: ignore[call-overload]
    return f"{value}x" if field not in {"prev_hash", "hash"} else "f" * 64


ROW_TAMPERS = {
    # each an edit an attacker could make with SQL (run raw: no bind parameters)
    "content": "UPDATE strategy_versions SET content = REPLACE(content, '\"fast_period\":', "
    "'\"fast_period\":1') WHERE row_id = (SELECT min(row_id) FROM strategy_versions)",
    "author": "UPDATE strategy_versions SET author = 'mallory' "
    "WHERE row_id = (SELECT max(row_id) FROM strategy_versions)",
    "tag": "UPDATE strategy_tags SET version = 1 WHERE version > 1",
    "tag_actor": "UPDATE strategy_tags SET actor = 'mallory'",
    "deprecation": "UPDATE strategy_deprecations SET reason = 'mallory'",
    "dropped_deprecation": "DELETE FROM strategy_deprecations",
}


# Property 12 (registry rows): whatever sequence of changes was made, any edit of a stored
# version, tag or deprecation row that the log did not record is reported by verify.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, tamper=st.sampled_from(sorted(ROW_TAMPERS)))
def test_any_edit_of_a_registry_row_is_found(migrated: Path, ops: list[Op], tamper: str) -> None:
    with TemporaryDirectory() as folder:
        shutil.copy(migrated, Path(folder) / "quantdesk.db")
        registry, _, database = registry_on(sqlite_database(Path(folder)))
        for kind, strategy_id, pick, tag_pick in [("register", "alpha", 5, 0), *ops]:
            if kind == "register":
                registry.register(trend(strategy_id, fast_period=pick), "tester")
                continue
            versions = registry.history(strategy_id) if _known(registry, strategy_id) else []
            if versions:
                version = 1 + pick % len(versions)
                if kind == "deprecate":
                    registry.deprecate(strategy_id, version, "tester", "old")
                else:
                    registry.tag(
                        strategy_id, version, ("validated", "live", "paper")[tag_pick], "t"
                    )
        assert registry.verify_audit().breaks == []
        with database.engine.begin() as connection:
            changed = connection.exec_driver_sql(ROW_TAMPERS[tamper]).rowcount
        if changed:
            assert registry.verify_audit().breaks != []
        else:  # nothing of that kind to edit: still holds
            assert registry.verify_audit().breaks == []
        database.dispose()


def _known(registry: StrategyRegistry, strategy_id: str) -> bool:
    return any(v.strategy_id == strategy_id for v in registry.list())
