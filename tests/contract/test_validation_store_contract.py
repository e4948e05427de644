"""The validation stores' contract, one suite over the in-memory fakes, SQLite and PostgreSQL:
policy versions (a new one only when content changes), validation records and overrides keyed
by exact content, each write audited; migration 0009 matches the tables; report files."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fakes import InMemoryPolicyStore, InMemoryValidationRecordStore
from quantdesk.adapters.storage import validation_tables
from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import Base
from quantdesk.adapters.storage.validation_policies import SqlPolicyStore
from quantdesk.adapters.storage.validation_records import SqlValidationRecordStore
from quantdesk.adapters.storage.validation_reports import FileValidationReports
from quantdesk.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantdesk.domain.validation.policy import Thresholds, ValidationPolicy
from quantdesk.domain.validation.report import PromotionOverride, ValidationReport
from quantdesk.services.ports.validation import PolicyStore, ValidationRecordStore
from quantdesk.services.validation.policies import policy_sha256
from support.contract_backends import BACKENDS, backend
from support.registry import postgres_database, sqlite_database
from support.validation_records import HASH_A, HASH_B, record, report

Events = Callable[[], list[tuple[str, str]]]


def _sql_events(database: Database) -> Events:
    log = SqlAuditLog(database)
    return lambda: [(event.action, event.subject) for event in log.events()]


@pytest.fixture(params=BACKENDS)
def policies(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[PolicyStore, Events]]:
    def sql(database: Database) -> tuple[PolicyStore, Events]:
        return SqlPolicyStore(database), _sql_events(database)

    def fake() -> tuple[PolicyStore, Events]:
        store = InMemoryPolicyStore()
        return store, lambda: list(store.events)

    with backend(request.param, tmp_path, fake, sql) as port:
        yield port


@pytest.fixture(params=BACKENDS)
def records(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ValidationRecordStore, Events]]:
    def sql(database: Database) -> tuple[ValidationRecordStore, Events]:
        return SqlValidationRecordStore(database), _sql_events(database)

    def fake() -> tuple[ValidationRecordStore, Events]:
        store = InMemoryValidationRecordStore()
        return store, lambda: list(store.events)

    with backend(request.param, tmp_path, fake, sql) as port:
        yield port


def add(store: PolicyStore, policy: ValidationPolicy, at_ns: int = 1) -> Any:
    return store.add(policy, sha256=policy_sha256(policy), actor="ana", at_ns=at_ns)


# --- policies ---------------------------------------------------------------------------------


def test_a_policy_gets_a_new_version_only_when_its_content_changes(
    policies: tuple[PolicyStore, Events],
) -> None:
    store, events = policies
    default = ValidationPolicy(name="default")
    first, created = add(store, default)
    assert (first.version, created, first.policy, first.author) == (1, True, default, "ana")
    again, created = add(store, default, at_ns=2)
    assert (again, created) == (first, False)
    stricter = ValidationPolicy(name="default", thresholds=Thresholds(min_oos_sharpe=1.5))
    second, created = add(store, stricter, at_ns=3)
    assert (second.version, created, second.created_at_ns) == (2, True, 3)
    assert store.current("default") == second
    assert store.get("default", 1) == first and store.get("default", 2) == second
    assert [p.version for p in store.history("default")] == [1, 2]
    assert events() == [
        ("validation_policy_set", "validation-policy:default@1"),
        ("validation_policy_set", "validation-policy:default@2"),
    ]


def test_policies_are_versioned_per_name(policies: tuple[PolicyStore, Events]) -> None:
    store, _ = policies
    add(store, ValidationPolicy(name="default"))
    strict, _ = add(store, ValidationPolicy(name="strict", seed=3))
    assert strict.version == 1 and strict.policy.seed == 3
    assert store.names() == ["default", "strict"]
    assert store.current("strict") == strict


def test_unknown_policies_and_versions_are_none(policies: tuple[PolicyStore, Events]) -> None:
    store, _ = policies
    add(store, ValidationPolicy(name="default"))
    assert store.current("nope") is None and store.history("nope") == []
    assert store.get("default", 2) is None and store.get("default", 0) is None
    assert store.get("default", 2**40) is None
    assert store.current("x" * 300) is None


# --- records and overrides ---------------------------------------------------------------------


def test_a_record_comes_back_as_stored_and_its_id_is_taken_once(
    records: tuple[ValidationRecordStore, Events],
) -> None:
    store, events = records
    failed = record("v1", passed=False, failed_checks=["oos_sharpe", "pbo"])
    store.add(failed, at_ns=5)
    assert store.get("v1") == failed and store.get("v2") is None
    with pytest.raises(ConflictError) as taken:
        store.add(record("v1"), at_ns=6)
    assert (taken.value.code, taken.value.data) == ("validation_exists", {"validation_id": "v1"})
    assert store.get("v1") == failed
    assert events() == [("validation_recorded", "trend-a@1")]


def test_latest_and_passing_are_of_exactly_this_content(
    records: tuple[ValidationRecordStore, Events],
) -> None:
    store, _ = records
    good = record("v1", finished_at_ns=20)
    bad = record("v2", passed=False, failed_checks=["pbo"], finished_at_ns=30)
    other = record("v3", content_hash=HASH_B, finished_at_ns=40)
    v2 = record("v4", version=2, finished_at_ns=50)
    for item in (good, bad, other, v2):
        store.add(item, at_ns=item.finished_at_ns)
    assert store.latest("trend-a", 1, HASH_A) == bad
    assert store.passing("trend-a", 1, HASH_A) == good
    assert store.passing("trend-a", 1, HASH_B) == other
    assert store.latest("trend-a", 3, HASH_A) is None
    assert store.passing("trend-b", 1, HASH_A) is None
    assert store.latest("trend-a", 2**40, HASH_A) is None


def test_records_list_newest_first_filtered_and_limited(
    records: tuple[ValidationRecordStore, Events],
) -> None:
    store, _ = records
    store.add(record("a1", finished_at_ns=1), at_ns=1)
    store.add(record("a2", finished_at_ns=3, version=2), at_ns=2)
    store.add(record("b1", finished_at_ns=2, strategy_id="trend-b"), at_ns=3)
    ids = lambda found: [r.validation_id for r in found]  # noqa: E731
    assert ids(store.list()) == ["a2", "b1", "a1"]
    assert ids(store.list("trend-a")) == ["a2", "a1"]
    assert ids(store.list("trend-a", 1)) == ["a1"]
    assert ids(store.list(limit=1)) == ["a2"]
    assert store.list("none") == []


def test_overrides_are_of_exactly_this_content_and_audited(
    records: tuple[ValidationRecordStore, Events],
) -> None:
    store, events = records
    first = PromotionOverride(
        strategy_id="trend-a", version=1, content_hash=HASH_A, actor="root", reason="desk", at_ns=5
    )
    later = first.model_copy(update={"reason": "again", "at_ns": 9})
    store.add_override(first)
    store.add_override(later)
    assert store.override("trend-a", 1, HASH_A) == later
    assert store.override("trend-a", 1, HASH_B) is None
    assert store.override("trend-a", 2, HASH_A) is None
    assert events() == [("promotion_overridden", "trend-a@1")] * 2


# --- migration 0009 ----------------------------------------------------------------------------

MINE = {
    validation_tables.ValidationPolicyRow.__tablename__,
    validation_tables.ValidationRecordRow.__tablename__,
    validation_tables.PromotionOverrideRow.__tablename__,
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(sqlite_database(tmp_path))
        yield database
        database.dispose()
        return
    with postgres_database() as url:
        database = Database(url)
        yield database
        database.dispose()


def _table_of(difference: Any) -> str:
    if isinstance(difference, list):
        return str(difference[0][2])
    kind, subject = difference[0], difference[1]
    if kind.endswith("_column"):
        return str(difference[2])
    if kind.endswith("_table"):
        return str(subject.name)
    return str(subject.table.name)


def test_migration_0009_creates_exactly_the_tables_declared(database: Database) -> None:
    database.upgrade()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)
        present = set(context.dialect.get_table_names(connection))
    assert present >= MINE
    assert [d for d in differences if _table_of(d) in MINE] == []


# --- report files ------------------------------------------------------------------------------


def _render(report: ValidationReport, out: TextIO) -> None:
    out.write(f"<html>{report.ref}</html>")


def test_a_report_is_saved_as_json_and_html_and_loads_back(tmp_path: Path) -> None:
    reports = FileValidationReports(tmp_path / "validations", _render)
    saved = report("v1", failed=("pbo",))
    folder = Path(reports.save(saved))
    assert folder == tmp_path / "validations" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "report.json"]
    assert reports.load("v1") == saved
    assert reports.html("v1").read_text() == "<html>trend-a@1</html>"
    with pytest.raises(ConflictError):
        reports.save(saved)


def test_a_report_that_fails_to_render_leaves_nothing(tmp_path: Path) -> None:
    def broken(report: ValidationReport, out: TextIO) -> None:
        out.write("<html>")
        raise RuntimeError("renderer broke")

    reports = FileValidationReports(tmp_path, broken)
    with pytest.raises(RuntimeError):
        reports.save(report("v1"))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(NotFoundError):
        reports.load("v1")


@pytest.mark.parametrize("bad", ["../etc", ".hidden", "a/b", "", "x" * 65])
def test_a_report_id_must_be_one_plain_folder_name(tmp_path: Path, bad: str) -> None:
    reports = FileValidationReports(tmp_path, _render)
    with pytest.raises(InvalidInputError):
        reports.html(bad)
