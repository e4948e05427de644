"""A bars table in a PostgreSQL database of its own, and a migration service reading it into
a real catalog: the starting point of the migration tests against the real server."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.sources.postgres_tables import PostgresTableSource
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.migration_store import SqlMigrationStore
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.migrations import MigrationService
from support.registry import postgres_database, sqlite_database
from support.table_sources import bars_mapping

START = datetime(2024, 1, 2, tzinfo=UTC)
INSERT = "INSERT INTO bars (ts, o, h, l, c, v) VALUES (%s, %s, %s, %s, %s, %s)"
BAR_TYPE = "A.XNAS-1-MINUTE-LAST-EXTERNAL"


@contextmanager
def bars_table() -> Iterator[str]:
    """The libpq URL of a fresh database holding an empty ``bars`` table (dropped after)."""
    with postgres_database() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as db:
            db.execute(
                "CREATE TABLE bars (id serial PRIMARY KEY, ts timestamptz, o numeric, "
                "h numeric, l numeric, c numeric, v numeric)"
            )
        yield plain


def migration_service(folder: Path) -> MigrationService:
    """Migrations into a catalog under ``folder`` that defines A.XNAS, recorded in SQLite."""
    catalog = ParquetCatalog(folder / "catalog")
    catalog.put_instrument(
        InstrumentSpec(
            instrument_id="A.XNAS", asset_class=AssetClass.EQUITY, currency="USD", tick_size="0.01"
        )
    )
    store = SqlMigrationStore(Database(sqlite_database(folder)))
    return MigrationService(catalog, store, PostgresTableSource)


def mapping(**change: Any) -> SourceMapping:
    """The ``bars`` table's mapping (columns o, h, l, c, v; seven rows a chunk)."""
    columns = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}
    return bars_mapping(**{"columns": columns, "chunk_rows": 7, **change})


def insert(dsn: str, rows: list[tuple[Any, ...]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as db, db.cursor() as cursor:
        cursor.executemany(INSERT, rows)


def good(minute: int, close: float = 10.5) -> tuple[Any, ...]:
    return (START + timedelta(minutes=minute), 10, 11, 10, close, 5)


def ns(minute: int) -> int:
    return int((START + timedelta(minutes=minute)).timestamp()) * 10**9
