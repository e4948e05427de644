"""A bars table migrates into a real catalog through the migration service, on the real
PostgreSQL server: valid rows land field by field, bad ones are rejected with a reason, a
second run takes only new rows, late rows inside the migrated range are re-read, and a
changed mapping under the same name is refused."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.sources.postgres_tables import PostgresTableSource
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.migration_store import SqlMigrationStore
from quantdesk.domain.errors import ConflictError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import RejectReason
from quantdesk.domain.migration import MigrationState
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.migrations import MigrationService
from support.registry import postgres_database, sqlite_database
from support.table_sources import bars_mapping

pytestmark = pytest.mark.services

START = datetime(2024, 1, 2, tzinfo=UTC)
INSERT = "INSERT INTO bars (ts, o, h, l, c, v) VALUES (%s, %s, %s, %s, %s, %s)"


@pytest.fixture
def dsn() -> Iterator[str]:
    with postgres_database() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as db:
            db.execute(
                "CREATE TABLE bars (id serial PRIMARY KEY, ts timestamptz, o numeric, "
                "h numeric, l numeric, c numeric, v numeric)"
            )
        yield plain


@pytest.fixture
def service(tmp_path: Path) -> MigrationService:
    catalog = ParquetCatalog(tmp_path / "catalog")
    catalog.put_instrument(
        InstrumentSpec(
            instrument_id="A.XNAS", asset_class=AssetClass.EQUITY, currency="USD", tick_size="0.01"
        )
    )
    store = SqlMigrationStore(Database(sqlite_database(tmp_path)))
    return MigrationService(catalog, store, PostgresTableSource)


def mapping(**change: Any) -> SourceMapping:
    columns = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}
    return bars_mapping(**{"columns": columns, "chunk_rows": 7, **change})


def insert(dsn: str, rows: list[tuple[Any, ...]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as db, db.cursor() as cursor:
        cursor.executemany(INSERT, rows)


def good(minute: int, close: float = 10.5) -> tuple[Any, ...]:
    return (START + timedelta(minutes=minute), 10, 11, 10, close, 5)


def closes(service: MigrationService) -> dict[int, float]:
    bars = service.catalog.read_bars("A.XNAS-1-MINUTE-LAST-EXTERNAL", 0, 2**62)
    return dict(zip(bars.ts_ns.tolist(), bars.close.tolist(), strict=True))


def ns(minute: int) -> int:
    return int((START + timedelta(minutes=minute)).timestamp()) * 10**9


def test_valid_rows_land_bad_ones_are_rejected_and_reruns_take_only_new_rows(
    dsn: str, service: MigrationService
) -> None:
    insert(dsn, [good(m, 10 + m / 100) for m in range(20)])
    insert(dsn, [(None, 1, 1, 1, 1, 1), good(3), (START + timedelta(minutes=30), 10, 9, 10, 10, 5)])
    first = service.migrate(mapping(), dsn)
    assert first.state is MigrationState.COMPLETED
    assert first.rows_read == 23 and first.rows_written == 20 and first.rows_rejected == 3
    assert closes(service) == {ns(m): 10 + m / 100 for m in range(20)}
    reasons = sorted(r.reason for r in service.rejections(first.migration_id))
    assert reasons == sorted(
        [
            RejectReason.TIMESTAMP_UNPARSEABLE,
            RejectReason.DUPLICATE_TIMESTAMP,
            RejectReason.OHLC_INCONSISTENT,
        ]
    )
    chunks = service.store.chunks(first.migration_id)
    assert all(c.source_sha256 == c.catalog_sha256 for c in chunks)
    lineage = [r for r in service.catalog.lineage() if r.migration is not None]
    assert lineage and all("password" not in r.source for r in lineage)

    insert(dsn, [good(40), good(41)])
    second = service.migrate(mapping(), dsn)
    assert second.rows_written == 2 and second.late_days == []
    assert set(closes(service)) == {ns(m) for m in [*range(20), 40, 41]}

    insert(dsn, [good(25)])  # late: before the watermark (minute 41)
    third = service.migrate(mapping(), dsn)
    assert third.late_days and third.rows_written == 1 and ns(25) in closes(service)
    assert service.migrate(mapping(), dsn).rows_written == 0


def test_a_changed_mapping_under_the_same_name_is_refused(
    dsn: str, service: MigrationService
) -> None:
    insert(dsn, [good(0)])
    service.migrate(mapping(), dsn)
    changed = mapping(filters=[{"column": "id", "op": ">", "value": 0}])
    with pytest.raises(ConflictError) as refused:
        service.migrate(changed, dsn)
    assert refused.value.code == "mapping_changed"
    assert service.migrate(changed, dsn, restart=True).rows_present == 1
