"""Tick tables through the migration service: a table held in memory (``ListTableSource``),
the real tick store and catalog, the in-memory migration store. Valid rows land field by
field and the rest is rejected with the reason; an instant's deltas are never split and end
with ``F_LAST``; a run killed after a commit resumes without duplicates; late rows replace
their range only when the catalog holds nothing there the table lacks; a changed row is
caught by the chunk digest and by verify."""

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from fakes import InMemoryMigrationStore
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.tick_reads import ParquetTickCatalog
from quantdesk.adapters.nautilus.tick_store import NautilusTickStore
from quantdesk.domain.errors import CatalogError
from quantdesk.domain.market_data import RejectReason
from quantdesk.domain.migration import ChunkCheckpoint, MigrationRun, MigrationState
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.domain.ticks import F_LAST, TickKind
from quantdesk.services.migrations import MigrationService
from quantdesk.services.tick_columns import TickColumns
from support.table_sources import ListTableSource, Row
from support.ticks import INSTRUMENT, crypto

START = datetime(2024, 1, 2, tzinfo=UTC)
START_NS = int(START.timestamp()) * 10**9


def mapping(kind: str = "trade_ticks", **change: Any) -> SourceMapping:
    document = {
        "name": f"a-{kind}",
        "kind": kind,
        "table": kind,
        "timestamp": {"column": "ts"},
        "instrument": {"instrument_id": INSTRUMENT},
        "key": "id",
        "chunk_rows": 3,
    }
    return SourceMapping.model_validate({**document, **change})


def trade(id_: int, second: int, price: float = 42000.5, **change: Any) -> Row:
    row: Row = {
        "id": id_,
        "ts": START + timedelta(seconds=second),
        "price": price,
        "size": 0.25,
        "aggressor_side": "BUY" if id_ % 2 else "SELL",
        "trade_id": f"t{id_}",
    }
    return {**row, **change}


def delta(id_: int, second: int, action: str = "ADD", **change: Any) -> Row:
    row: Row = {
        "id": id_,
        "ts": START + timedelta(seconds=second),
        "action": action,
        "side": "BID" if id_ % 2 else "ASK",
        "price": 42000.0 - id_ if id_ % 2 else 42100.0 + id_,
        "size": 1.5,
        "order_id": id_,
        "sequence": id_,
    }
    return {**row, **change}


class _Ticks:
    def __init__(self, root: Path) -> None:
        self.store = NautilusTickStore(root)
        self.reads = ParquetTickCatalog(root)


@pytest.fixture
def catalog(tmp_path: Path) -> ParquetCatalog:
    catalog = ParquetCatalog(tmp_path / "catalog")
    catalog.put_instrument(crypto())
    return catalog


def service_on(
    catalog: ParquetCatalog, source: ListTableSource, store: Any = None, reads: Any = None
) -> MigrationService:
    ticks = _Ticks(catalog.root)
    return MigrationService(
        catalog,
        store or InMemoryMigrationStore(),
        lambda dsn: source,
        ticks=(ticks.store, reads or ticks.reads),
    )


def held(catalog: ParquetCatalog, kind: TickKind) -> TickColumns:
    return ParquetTickCatalog(catalog.root).read_ticks(kind, INSTRUMENT, 0, 2**62)


def test_valid_trades_land_field_by_field_and_the_rest_is_rejected_with_the_reason(
    catalog: ParquetCatalog,
) -> None:
    good = [trade(i, i // 2, price=42000.5 + i) for i in range(1, 9)]
    bad = [
        trade(20, 1, size=0),  # size must be > 0
        trade(21, 2, aggressor_side="SIDEWAYS"),
        trade(22, 3, ts=None),
        trade(23, 3, price=42000.505),  # off the instrument's tick
        trade(24, 1, trade_id="t3"),  # t3 again at its own instant
    ]
    source = ListTableSource(good + bad)
    service = service_on(catalog, source)
    run = service.migrate(mapping(), "memory")
    assert run.state is MigrationState.COMPLETED
    assert (run.rows_read, run.rows_written, run.rows_rejected) == (13, 8, 5)
    stored = held(catalog, TickKind.TRADE)
    ordered = sorted(good, key=lambda r: (r["ts"], r["id"]))
    assert stored.field("trade_id").tolist() == [r["trade_id"] for r in ordered]
    assert stored.field("price").tolist() == [r["price"] for r in ordered]
    assert stored.field("size").tolist() == [0.25] * 8
    assert stored.field("aggressor_side").tolist() == [1 if r["id"] % 2 else 2 for r in ordered]
    assert stored.ts_ns.tolist() == [START_NS + (r["id"] // 2) * 10**9 for r in ordered]
    reasons = {r.reason for r in service.rejections(run.migration_id)}
    assert reasons == {  # one each, in the rules' words
        RejectReason.SIZE_NOT_POSITIVE,
        RejectReason.SIDE_INVALID,
        RejectReason.TIMESTAMP_UNPARSEABLE,
        RejectReason.PRICE_PRECISION,
        RejectReason.DUPLICATE_TRADE,
    }
    assert all(r.detail for r in service.rejections(run.migration_id))
    lineage = [r for r in catalog.lineage() if r.data_type == "trade_tick"]
    assert lineage and all(r.migration is not None for r in lineage)
    assert sum(r.rows_written for r in lineage) == 8
    assert service.migrate(mapping(), "memory").rows_read == 1  # the row without a time
    assert service.verify(mapping(), "memory").passed


def test_an_instants_deltas_are_never_split_and_its_last_carries_the_last_flag(
    catalog: ParquetCatalog,
) -> None:
    rows = [delta(i, second) for i, second in enumerate([0, 0, 0, 1, 1, 2, 3, 3, 3, 3], start=1)]
    service = service_on(catalog, ListTableSource(rows))
    run = service.migrate(mapping("order_book_deltas", chunk_rows=1), "memory")
    assert run.rows_written == 10 and run.chunks == 4  # one chunk per instant
    stored = held(catalog, TickKind.DELTA)
    ends = np.append(stored.ts_ns[1:] != stored.ts_ns[:-1], True)
    assert stored.field("flags").tolist() == [F_LAST if end else 0 for end in ends]
    assert stored.field("sequence").tolist() == list(range(1, 11))
    engine = ParquetDataCatalog(str(catalog.root)).order_book_deltas()
    assert [d.flags for d in engine] == stored.field("flags").tolist()
    assert service.verify(mapping("order_book_deltas", chunk_rows=1), "memory").passed


def test_quotes_and_deltas_read_the_tick_files_field_names(catalog: ParquetCatalog) -> None:
    quotes = [
        {"id": i, "ts": START + timedelta(seconds=i), "b": 41999.5, "a": 42000.5, "bs": 1, "as": 2}
        for i in range(5)
    ]
    columns = {"bid": "b", "ask": "a", "bid_size": "bs", "ask_size": "as"}
    service = service_on(catalog, ListTableSource(quotes))
    assert service.migrate(mapping("quote_ticks", columns=columns), "memory").rows_written == 5
    stored = held(catalog, TickKind.QUOTE)
    assert stored.field("bid").tolist() == [41999.5] * 5
    assert stored.field("ask_size").tolist() == [2.0] * 5
    bare = [
        {k: v for k, v in delta(i, i).items() if k not in ("order_id", "sequence")}
        for i in range(1, 4)
    ]
    absent = {"order_id": None, "sequence": None}
    deltas = service_on(catalog, ListTableSource(bare))
    assert deltas.migrate(mapping("order_book_deltas", columns=absent), "memory").rows_written == 3
    assert held(catalog, TickKind.DELTA).field("sequence").tolist() == [0, 0, 0]


class _DiesAfterCommit(InMemoryMigrationStore):
    """The process dies between a chunk's catalog commit and its checkpoint, once."""

    def __init__(self, at_chunk: int) -> None:
        super().__init__()
        self.at_chunk = at_chunk

    def save_chunk(self, run: MigrationRun, chunk: ChunkCheckpoint) -> None:
        if chunk.record.chunk == self.at_chunk:
            self.at_chunk = -1
            raise KeyboardInterrupt
        super().save_chunk(run, chunk)


def test_a_run_killed_after_a_commit_resumes_without_duplicates_or_gaps(
    catalog: ParquetCatalog,
) -> None:
    rows = [trade(i, i) for i in range(1, 13)]
    store = _DiesAfterCommit(at_chunk=2)
    service = service_on(catalog, ListTableSource(rows), store=store)
    with pytest.raises(KeyboardInterrupt):
        service.migrate(mapping(), "memory")
    assert len(held(catalog, TickKind.TRADE)) == 6  # two chunks committed, one checkpointed
    run = service.migrate(mapping(), "memory")
    assert (run.rows_read, run.rows_present, run.rows_written) == (9, 3, 6)
    assert held(catalog, TickKind.TRADE).field("trade_id").tolist() == [
        f"t{i}" for i in range(1, 13)
    ]
    assert service.verify(mapping(), "memory").passed


def test_late_ticks_take_their_place_in_the_series_and_verify_passes(
    catalog: ParquetCatalog,
) -> None:
    rows = [trade(i, 10 * i) for i in range(1, 10)]
    source = ListTableSource(rows)
    service = service_on(catalog, source)
    service.migrate(mapping(), "memory")
    source.rows.extend([trade(50, 15), trade(51, 40), trade(52, 10), trade(53, 200)])
    run = service.migrate(mapping(), "memory")
    assert run.late_days == [(START.date() - datetime(1970, 1, 1).date()).days]
    assert run.rows_rejected == 0 and run.rows_written == 4
    stored = held(catalog, TickKind.TRADE).field("trade_id").tolist()
    assert stored == [
        "t1",
        "t52",
        "t50",
        "t2",
        "t3",
        "t4",
        "t51",
        *[f"t{i}" for i in range(5, 10)],
        "t53",
    ]
    assert service.verify(mapping(), "memory").passed
    files = (catalog.root / "data" / "trade_tick").rglob("*.parquet")
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == 13  # the old files gone


def test_late_ticks_keep_rows_the_table_lost_and_never_overwrite_a_trade(
    catalog: ParquetCatalog,
) -> None:
    rows = [trade(i, 10 * i) for i in range(1, 6)]
    source = ListTableSource(rows)
    service = service_on(catalog, source)
    service.migrate(mapping(), "memory")
    source.rows.remove(rows[2])  # t3 deleted from the table after it was migrated
    source.rows[0] = trade(1, 10, price=41000.0)  # t1 changed in place
    source.rows.extend([trade(50, 25), trade(51, 35), trade(52, 30)])
    run = service.migrate(mapping(), "memory")
    refused = service.rejections(run.migration_id)
    assert [(r.field, r.reason) for r in refused] == [
        ("trade_id", RejectReason.CONFLICTS_WITH_CATALOG)
    ]
    assert "42000.5" in refused[0].detail  # what the catalog holds for t1
    stored = held(catalog, TickKind.TRADE)
    assert stored.field("trade_id").tolist() == ["t1", "t2", "t50", "t52", "t3", "t51", "t4", "t5"]
    assert stored.field("price")[0] == 42000.5  # never overwritten
    report = service.verify(mapping(), "memory")
    assert not report.passed and len(report.differences) == 1  # t1 and t3 differ: that day


class _LyingTicks:
    """The real tick reads, except that one trade's price comes back changed."""

    def __init__(self, root: Path) -> None:
        self._reads = ParquetTickCatalog(root)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reads, name)

    def read_ticks(self, kind: TickKind, instrument_id: str, start: int, end: int) -> TickColumns:
        return _lie(self._reads.read_ticks(kind, instrument_id, start, end))

    def tick_batches(
        self, kind: TickKind, instrument_id: str, start: int, end: int
    ) -> Iterator[TickColumns]:
        return map(_lie, self._reads.tick_batches(kind, instrument_id, start, end))


def _lie(found: TickColumns) -> TickColumns:
    if not len(found):
        return found
    price = found.field("price").copy()
    price[-1] += 0.01
    return dataclasses.replace(found, values={**found.values, "price": price})


def test_a_tick_read_back_changed_stops_the_chunk_and_verify_finds_the_day(
    catalog: ParquetCatalog,
) -> None:
    source = ListTableSource([trade(i, i) for i in range(1, 5)])
    lying = service_on(catalog, source, reads=_LyingTicks(catalog.root))
    with pytest.raises(CatalogError) as mismatch:
        lying.migrate(mapping(), "memory")
    assert mismatch.value.code == "chunk_digest_mismatch"
    assert lying.store.checkpoint("a-trade_ticks") is None
    honest = service_on(catalog, source, store=lying.store)
    assert honest.migrate(mapping(), "memory").state is MigrationState.COMPLETED
    assert honest.verify(mapping(), "memory").passed
    report = service_on(catalog, source, store=lying.store, reads=_LyingTicks(catalog.root)).verify(
        mapping(), "memory"
    )
    assert [d.day for d in report.differences] == [START.date().isoformat()]


def test_crossed_books_and_quotes_are_kept_and_counted_as_warnings(
    catalog: ParquetCatalog,
) -> None:
    crossed = [
        delta(1, 0, side="BID", price=42100.0),
        delta(2, 0, side="ASK", price=42000.0),  # best bid above best ask after the event
        delta(3, 1, action="DELETE", side="BID", price=42100.0, size=0.0),
        delta(4, 2, side="BID", price=42200.0),  # crossed again, the read's last event
    ]
    service = service_on(catalog, ListTableSource(crossed))
    run = service.migrate(mapping("order_book_deltas", chunk_rows=1), "memory")
    assert run.rows_written == 4 and run.rows_rejected == 0
    assert run.warnings_by_kind == {"crossed_book": 2}
    assert service.store.run(run.migration_id) == run
    quotes = [
        {
            "id": i,
            "ts": START + timedelta(seconds=i),
            "bid": b,
            "ask": 42000.0,
            "bid_size": 1,
            "ask_size": 1,
        }
        for i, b in enumerate([41999.0, 42000.5, 42001.0])
    ]
    quoted = service_on(catalog, ListTableSource(quotes)).migrate(mapping("quote_ticks"), "memory")
    assert quoted.warnings_by_kind == {"crossed_quote": 2} and quoted.rows_written == 3


def test_a_restarted_book_migration_finds_every_delta_present(catalog: ParquetCatalog) -> None:
    rows = [delta(i, second) for i, second in enumerate([0, 0, 1, 2, 2, 2], start=1)]
    service = service_on(catalog, ListTableSource(rows))
    service.migrate(mapping("order_book_deltas"), "memory")
    again = service.migrate(mapping("order_book_deltas"), "memory", restart=True)
    assert (again.rows_read, again.rows_present, again.rows_written) == (6, 6, 0)
    assert held(catalog, TickKind.DELTA).field("sequence").tolist() == list(range(1, 7))
