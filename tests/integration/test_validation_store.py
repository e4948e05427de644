"""Validation outcomes per version on both databases (SQLite, PostgreSQL): the newest wins."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.validation_store import SqlValidationStore
from quantdesk.domain.compatibility import Check, CompatibilityProblem, CompatibilityReport
from support.registry import postgres_database, sqlite_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlValidationStore]:
    if request.param == "sqlite":
        database = Database(sqlite_database(tmp_path))
        yield SqlValidationStore(database)
        database.dispose()
        return
    with postgres_database() as url:
        database = Database(url)
        yield SqlValidationStore(database)
        database.dispose()


def report(version: int, at_ns: int, *problems: tuple[Check, str]) -> CompatibilityReport:
    return CompatibilityReport(
        strategy_id="trend-a",
        version=version,
        content_hash=f"{version:064x}",
        problems=tuple(CompatibilityProblem(c, r) for c, r in problems),
        checked_at_ns=at_ns,
        engine_version="1.221.0",
        skipped=(CompatibilityProblem(Check.SMOKE, "not run: the data check failed"),),
        smoke_seconds=None if problems else 1.5,
    )


def test_the_newest_report_per_version_is_its_outcome(store: SqlValidationStore) -> None:
    assert store.latest("trend-a", 1) is None
    failed = report(
        1, 10, (Check.DATA, "instrument X.SIM is not in the catalog"), (Check.RISK, "r")
    )
    store.save(failed)
    assert store.latest("trend-a", 1) == failed  # every field back, problems in order
    passed = report(1, 20)
    store.save(passed)
    second = report(2, 5, (Check.SMOKE, "killed"))
    store.save(second)
    assert store.latest("trend-a", 1) == passed
    assert store.latest_of("trend-a") == {1: passed, 2: second}
    assert store.latest_of("other") == {}
