"""``verify`` on the real PostgreSQL server and a real catalog: it passes on a fresh
migration, and finds a row changed in the catalog, a row deleted from it, and a row updated
in place in the source (which an incremental run cannot see); rows after the watermark are
not its business; tables no mapping names are neither read nor written."""

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantdesk.domain.errors import NotFoundError
from quantdesk.services.migrations import MigrationService
from support.postgres_bars import BAR_TYPE, bars_table, good, insert, mapping, migration_service

pytestmark = pytest.mark.services

DAY = 24 * 60  # minutes


@pytest.fixture
def dsn() -> Iterator[str]:
    with bars_table() as url:
        yield url


@pytest.fixture
def service(tmp_path: Path) -> MigrationService:
    return migration_service(tmp_path)


def migrated(dsn: str, service: MigrationService) -> None:
    """Two UTC days of bars (the first starts at minute 0 of 2024-01-02), migrated."""
    insert(dsn, [good(m, 10 + (m % 50) / 100) for m in range(0, 2 * DAY, 60)])
    assert service.migrate(mapping(), dsn).rows_written == 48


def rewrite_first_file(service: MigrationService, change: Callable[[pa.Table], pa.Table]) -> None:
    """Change one catalog file behind the catalog's back (a disk, a hand, a bug)."""
    first = service.catalog.bar_files(BAR_TYPE, 0, 2**62)[0]
    path = service.catalog.root / first.path
    table = pq.read_table(path)
    pq.write_table(change(table), path)


def test_a_fresh_migration_verifies_day_by_day(dsn: str, service: MigrationService) -> None:
    migrated(dsn, service)
    report = service.verify(mapping(), dsn)
    assert report.passed and [d.day for d in report.days] == ["2024-01-02", "2024-01-03"]
    assert [d.source_rows for d in report.days] == [24, 24]
    assert report.rows_source == report.rows_catalog == 48
    insert(dsn, [good(3 * DAY)])  # after the watermark: not migrated yet, not compared
    assert service.verify(mapping(), dsn).passed


def test_a_row_changed_in_the_catalog_is_found(dsn: str, service: MigrationService) -> None:
    migrated(dsn, service)

    def change(table: pa.Table) -> pa.Table:
        column = table.column("close")
        changed = pa.concat_arrays([*column.slice(1, 1).chunks, *column.slice(1).chunks])
        return table.set_column(table.schema.get_field_index("close"), "close", changed)

    rewrite_first_file(service, change)
    report = service.verify(mapping(), dsn)
    assert not report.passed
    (day,) = report.differences
    assert day.day == "2024-01-02" and day.source_rows == day.catalog_rows == 24
    assert day.source_sha256 != day.catalog_sha256


def test_a_row_missing_from_the_catalog_is_found(dsn: str, service: MigrationService) -> None:
    migrated(dsn, service)
    rewrite_first_file(service, lambda table: table.slice(1))
    (day,) = service.verify(mapping(), dsn).differences
    assert (day.day, day.source_rows, day.catalog_rows) == ("2024-01-02", 24, 23)


def test_a_source_row_updated_in_place_is_found(dsn: str, service: MigrationService) -> None:
    migrated(dsn, service)
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("UPDATE bars SET c = 10.99, h = 11 WHERE id = 30")  # day two, same count
    assert service.migrate(mapping(), dsn).rows_read == 0  # counts per day are unchanged
    (day,) = service.verify(mapping(), dsn).differences
    assert day.day == "2024-01-03" and day.source_rows == day.catalog_rows


def test_nothing_to_verify_before_a_row_is_migrated(dsn: str, service: MigrationService) -> None:
    with pytest.raises(NotFoundError) as raised:
        service.verify(mapping(), dsn)
    assert raised.value.code == "migration_not_started"


def test_tables_no_mapping_names_are_neither_read_nor_written(
    dsn: str, service: MigrationService
) -> None:
    """The old workspace's graph and embedding tables stay where they are, untouched."""
    # Property 27: legacy graph/embedding data stays accessible
    edges = [("AAPL", "MSFT", 0.7), ("MSFT", "NVDA", 0.4)]
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("CREATE TABLE graph_edges (src text, dst text, weight float8)")
        db.cursor().executemany("INSERT INTO graph_edges VALUES (%s, %s, %s)", edges)
        db.execute("CREATE TABLE embeddings (id serial PRIMARY KEY, doc text, v float8[])")
        db.execute("INSERT INTO embeddings (doc, v) VALUES ('10-K', '{0.1,0.2,0.3}')")
        before = _scans(db)
    migrated(dsn, service)
    insert(dsn, [good(30)])  # a late row: the day is re-read
    service.migrate(mapping(), dsn)
    assert service.verify(mapping(), dsn).passed
    with psycopg.connect(dsn, autocommit=True) as db:
        assert _scans(db) == before  # no scan, update or delete since they were written
        assert db.execute("SELECT * FROM graph_edges ORDER BY src").fetchall() == edges
        assert db.execute("SELECT doc, v FROM embeddings").fetchall() == [("10-K", [0.1, 0.2, 0.3])]


def _scans(db: psycopg.Connection) -> list[tuple[object, ...]]:
    """How often the other tables were scanned, updated or deleted from (stats flushed)."""
    db.execute("SELECT pg_stat_force_next_flush()")
    db.execute("SELECT pg_stat_clear_snapshot()")
    return db.execute(
        "SELECT relname, seq_scan, coalesce(idx_scan, 0), n_tup_upd + n_tup_del "
        "FROM pg_stat_user_tables WHERE relname IN ('graph_edges', 'embeddings') ORDER BY 1"
    ).fetchall()
