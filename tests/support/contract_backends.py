"""The backends every contract suite runs over: the in-memory fake, SQLite, PostgreSQL."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from quantdesk.adapters.storage.database import Database
from support.registry import postgres_database, sqlite_database

T = TypeVar("T")

BACKENDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.services)]


@contextmanager
def backend(
    name: str, folder: Path, fake: Callable[[], T], sql: Callable[[Database], T]
) -> Iterator[T]:
    """The port on ``name``: the fake, or the SQL adapter on a fresh database (disposed)."""
    if name == "memory":
        yield fake()
        return
    if name == "sqlite":
        database = Database(sqlite_database(folder))
        yield sql(database)
        database.dispose()
        return
    with postgres_database() as url:
        database = Database(url)
        yield sql(database)
        database.dispose()
