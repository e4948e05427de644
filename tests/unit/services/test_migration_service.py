"""The migration service on a table held in memory (``ListTableSource``), a real catalog and
the in-memory migration store (its contract: tests/contract/test_migration_store_contract.py):
what it refuses before reading, a chunk whose read-back differs stops before its
checkpoint, rows of undefined instruments are rejected with the reason, a rerun after a
failed chunk resumes without loss."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fakes import InMemoryMigrationStore
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.storage.file_locks import FileRunLocks
from quantdesk.domain.errors import CatalogError, ConflictError, InvalidInputError, NotFoundError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import RejectReason
from quantdesk.domain.migration import MigrationRun, MigrationState
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.migrations import MigrationService
from quantdesk.services.ports.run_locks import ProcessRunLocks
from support.table_sources import CorruptingCatalog, ListTableSource, Row, bars_mapping

START = datetime(2024, 1, 2, tzinfo=UTC)


def mapping(**change: Any) -> SourceMapping:
    return bars_mapping(**{"chunk_rows": 4, **change})


def row(minute: int, symbol: str = "A", close: float = 10.5) -> Row:
    return {
        "id": minute,
        "ts": START + timedelta(minutes=minute),
        "symbol": symbol,
        "open": 10,
        "high": 11,
        "low": 10,
        "close": close,
        "volume": 5,
    }


@pytest.fixture
def catalog(tmp_path: Path) -> ParquetCatalog:
    catalog = ParquetCatalog(tmp_path / "catalog")
    catalog.put_instrument(
        InstrumentSpec(
            instrument_id="A.XNAS", asset_class=AssetClass.EQUITY, currency="USD", tick_size="0.01"
        )
    )
    return catalog


def service_on(catalog: Any, source: ListTableSource) -> MigrationService:
    return MigrationService(
        catalog, InMemoryMigrationStore(), lambda dsn: source, sources={"f2": "postgresql://x"}
    )


def test_a_chunk_read_back_different_stops_before_its_checkpoint_and_resumes(
    catalog: ParquetCatalog,
) -> None:
    source = ListTableSource([row(m) for m in range(10)])
    corrupting = CorruptingCatalog(catalog)
    service = service_on(corrupting, source)
    with pytest.raises(CatalogError) as raised:
        service.migrate(mapping(), "memory")
    assert raised.value.code == "chunk_digest_mismatch"
    assert "chunk 1" in raised.value.message
    assert service.store.checkpoint("a-bars") is None  # nothing vouched for
    (failed,) = service.runs()
    assert failed.state is MigrationState.FAILED and "differ" in (failed.error or "")
    corrupting.corrupt = False  # the disk is mended: the rerun resumes from the start
    done = service.migrate(mapping(), "memory")
    assert done.state is MigrationState.COMPLETED
    assert (done.rows_read, done.rows_written, done.rows_present) == (10, 6, 4)
    held = catalog.read_bars("A.XNAS-1-MINUTE-LAST-EXTERNAL", 0, 2**62)
    assert len(held) == 10 and np.all(held.close == 10.5)


def test_a_changed_mapping_is_refused_before_the_source_is_opened(catalog: ParquetCatalog) -> None:
    source = ListTableSource([row(m) for m in range(3)])
    service = service_on(catalog, source)
    service.migrate(mapping(), "memory")
    opened = source.snapshots
    with pytest.raises(ConflictError) as raised:
        service.migrate(mapping(filters=[{"column": "id", "op": ">", "value": 0}]), "memory")
    assert raised.value.code == "mapping_changed" and source.snapshots == opened
    # the chunk size is not part of what the watermark describes
    assert service.migrate(mapping(chunk_rows=2), "memory").state is MigrationState.COMPLETED
    # and a restart takes the changed mapping from the first row
    restarted = service.migrate(
        mapping(filters=[{"column": "id", "op": ">", "value": 0}]), "memory", restart=True
    )
    assert (restarted.rows_read, restarted.rows_present) == (3, 3)


def test_rows_of_instruments_the_catalog_lacks_are_rejected_by_name(
    catalog: ParquetCatalog,
) -> None:
    rows = [row(0, "A.XNAS"), row(1, "B.XNAS"), row(2, "A.XNAS"), row(3, None)]  # type: ignore[arg-type]
    service = service_on(catalog, ListTableSource(rows))
    run = service.migrate(mapping(instrument={"column": "symbol"}), "memory")
    assert (run.rows_read, run.rows_written, run.rows_rejected) == (4, 2, 2)
    rejected = {r.row: r for r in service.rejections(run.migration_id)}
    assert set(rejected) == {2, 4}
    assert rejected[2].reason is RejectReason.INSTRUMENT_UNMAPPED
    assert "defines no instrument B.XNAS" in rejected[2].detail
    assert rejected[4].reason is RejectReason.INSTRUMENT_UNMAPPED


def test_what_is_refused_before_any_row_is_read(catalog: ParquetCatalog) -> None:
    source = ListTableSource([row(0)])
    service = service_on(catalog, source)
    ticks = mapping(kind="trade_ticks", bar_spec=None)
    with pytest.raises(InvalidInputError) as kind:
        service.migrate(ticks, "memory")
    assert kind.value.code == "migration_kind_unsupported"
    with pytest.raises(InvalidInputError) as unreadable:
        service.migrate(mapping(columns={"close": "last"}), "memory")
    assert unreadable.value.code == "mapping_unreadable"
    assert "bars has no column last" in unreadable.value.message
    with pytest.raises(NotFoundError) as undefined:
        service.migrate(mapping(instrument={"instrument_id": "Z.XNAS"}), "memory")
    assert undefined.value.code == "instrument_not_found"
    assert source.snapshots == 0 and service.runs() == []


def test_sources_are_named_and_a_url_only_where_allowed(catalog: ParquetCatalog) -> None:
    service = service_on(catalog, ListTableSource([]))
    assert service.source_url("f2", allow_url=False) == "postgresql://x"
    assert service.source_url("postgresql://h/db", allow_url=True) == "postgresql://h/db"
    with pytest.raises(NotFoundError) as by_url:
        service.source_url("postgresql://u:pw@h/db", allow_url=False)
    assert "pw" not in str(by_url.value) and by_url.value.code == "source_not_found"
    with pytest.raises(NotFoundError) as unknown:
        service.source_url("f9", allow_url=True)
    assert "known: f2" in unknown.value.message


def test_one_run_per_mapping_at_a_time_and_the_dead_are_buried(catalog: ParquetCatalog) -> None:
    locks = ProcessRunLocks()
    store = InMemoryMigrationStore()
    source = ListTableSource([row(m) for m in range(3)])
    service = MigrationService(catalog, store, lambda dsn: source, locks=locks)
    service.migrate(mapping(), "memory")
    with locks.hold("migration:a-bars"):  # another run holds the mapping
        with pytest.raises(ConflictError) as running:
            service.migrate(mapping(), "memory")
        assert running.value.code == "migration_running"
        with pytest.raises(ConflictError):  # its catalog may be ahead of its checkpoint
            service.verify(mapping(), "memory")
    assert len(service.runs()) == 1
    store.save_run(  # a run whose process was killed: still "running" in the record
        MigrationRun(
            migration_id="mig-dead",
            mapping_name="a-bars",
            source="memory",
            table="bars",
            kind="bars",
            state=MigrationState.RUNNING,
            actor="ana",
            started_ns=1,
        )
    )
    done = service.migrate(mapping(), "memory")
    dead = service.run("mig-dead")
    assert done.state is MigrationState.COMPLETED
    assert dead.state is MigrationState.FAILED and "interrupted" in (dead.error or "")


def test_file_locks_exclude_each_other_and_are_released(tmp_path: Path) -> None:
    locks = FileRunLocks(tmp_path / "locks")
    with locks.hold("migration:a") as first:
        with FileRunLocks(tmp_path / "locks").hold("migration:a") as second:
            assert first and not second
        with locks.hold("migration:b") as other:
            assert other
    with locks.hold("migration:a") as again:
        assert again
