"""Migration 0005 creates exactly the auth tables the store's classes declare, on SQLite and
on PostgreSQL (a column added to a class without the migration fails here, not in use)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from quantdesk.adapters.storage import auth_tables
from quantdesk.adapters.storage.database import Database
from support.registry import postgres_database, sqlite_database

MINE = {
    auth_tables.UserRow.__tablename__,
    auth_tables.RefreshTokenRow.__tablename__,
    auth_tables.ApiKeyRow.__tablename__,
    auth_tables.LoginFailureRow.__tablename__,
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


def table_of(difference: Any) -> str:
    if isinstance(difference, list):  # modify_* ops: (op, schema, table, column, ...)
        return str(difference[0][2])
    kind, subject = difference[0], difference[1]
    if kind.endswith("_column"):
        return str(difference[2])
    if kind.endswith("_table"):
        return str(subject.name)
    return str(subject.table.name)  # indexes, constraints


def test_migration_matches_the_tables(database: Database) -> None:
    database.upgrade()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, auth_tables.Base.metadata)
        present = set(context.dialect.get_table_names(connection))
    assert present >= MINE
    assert [d for d in differences if table_of(d) in MINE] == []
