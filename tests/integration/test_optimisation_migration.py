"""Migration 0010 creates exactly the study table its class declares, on SQLite and on
PostgreSQL; the record store round-trips a study there."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from quantdesk.adapters.storage import study_tables
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.study_records import SqlStudyRecordStore
from quantdesk.domain.optimisation.study import Sampler, StudyRecord, StudyState
from support.registry import postgres_database, sqlite_database

MINE = study_tables.StudyRow.__tablename__


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


def _table(difference: Any) -> str:
    if isinstance(difference, list):
        return str(difference[0][2])
    kind, subject = difference[0], difference[1]
    if kind.endswith("_column"):
        return str(difference[2])
    if kind.endswith("_table"):
        return str(subject.name)
    return str(subject.table.name)


def test_migration_matches_the_table(database: Database) -> None:
    database.upgrade()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, study_tables.Base.metadata)
        present = set(context.dialect.get_table_names(connection))
    assert MINE in present
    assert [d for d in differences if _table(d) == MINE] == []


def test_the_record_store_keeps_one_row_per_study(database: Database) -> None:
    store = SqlStudyRecordStore(database)
    record = StudyRecord(
        name="s1",
        ref="trend@1",
        space_sha256="a" * 64,
        objective="sharpe",
        sampler=Sampler.TPE,
        seed=2**40,
        state=StudyState.RUNNING,
        trials_requested=5,
        created_ns=1,
        updated_ns=1,
    )
    store.save(record)
    done = record.model_copy(
        update={
            "state": StudyState.COMPLETED,
            "best_number": 3,
            "best_value": 1.5,
            "registered_ref": "trend@2",
            "updated_ns": 2,
        }
    )
    store.save(done)
    store.save(record.model_copy(update={"name": "s2", "created_ns": 5}))
    assert store.get("s1") == done
    assert store.get("missing") is None and store.get("x" * 500) is None
    assert [r.name for r in store.list()] == ["s2", "s1"]
