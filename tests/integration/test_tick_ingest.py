"""Tick ingest into a real catalog: overlap, conflicts, atomicity, readers, real files.

Property 25 / 29 (stored in the engine's format, read back by its catalog), 30 (invalid
data rejected at ingest), 32 (lineage recorded).
"""

import csv
import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from nautilus_trader.model.book import OrderBook
from nautilus_trader.model.enums import BookType
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.tick_store import NautilusTickStore
from quantdesk.adapters.sources.tick_files import TickFileSource
from quantdesk.domain.errors import NothingValidError, SourceReadError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import RejectReason
from quantdesk.domain.ticks import TickIngestOptions, TickKind
from quantdesk.services.platform import Platform
from quantdesk.services.tick_columns import RawTicks
from quantdesk.services.tick_ingest import TickIngestService
from support.bars import iso
from support.environment import shared_file
from support.ticks import INSTRUMENT, T0, crypto, write_rows

TRADE_HEADER = ("timestamp", "price", "size", "aggressor_side", "trade_id")
SECOND = 1_000_000_000


@pytest.fixture
def desk_with_crypto(desk: Platform) -> Platform:
    desk.instruments.add(crypto())
    return desk


def trades(n: int, start: int = 0) -> list[list[object]]:
    return [
        [iso(T0 + i * SECOND), f"{100 + i}.01", "1.000", "BUYER", f"t{i}"]
        for i in range(start, start + n)
    ]


def rejects(path: str | None) -> list[dict[str, str]]:
    assert path is not None
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_overlapping_files_add_only_what_is_new(desk_with_crypto: Platform, tmp_path: Path) -> None:
    ticks = desk_with_crypto.ticks
    first = ticks.ingest(
        write_rows(tmp_path / "a.csv", TRADE_HEADER, trades(10)), TickKind.TRADE, INSTRUMENT
    )
    second = ticks.ingest(
        write_rows(tmp_path / "b.csv", TRADE_HEADER, trades(10, start=5)),
        TickKind.TRADE,
        INSTRUMENT,
    )
    assert (first.rows_written, second.rows_written, second.rows_already_present) == (10, 5, 5)
    engine = ParquetDataCatalog(str(desk_with_crypto.home / "catalog"))
    assert [t.trade_id.value for t in engine.trade_ticks()] == [f"t{i}" for i in range(15)]
    lineage = [r for r in desk_with_crypto.catalog.lineage() if r.data_type == "trade_tick"]
    assert [(r.rows_written, r.rows_already_present) for r in lineage] == [(10, 0), (5, 5)]
    assert all(f.sha256 and f.rows for r in lineage for f in r.files_added)


def test_changed_or_late_ticks_inside_the_stored_range_are_refused(
    desk_with_crypto: Platform, tmp_path: Path
) -> None:
    ticks = desk_with_crypto.ticks
    ticks.ingest(
        write_rows(tmp_path / "a.csv", TRADE_HEADER, trades(10)), TickKind.TRADE, INSTRUMENT
    )
    changed = trades(10)
    changed[3][1] = "999.99"  # same time and trade id, another price
    changed[6][4] = "late"  # a trade the catalog never had, inside its range
    before = snapshot(desk_with_crypto.home / "catalog")
    summary = ticks.ingest(
        write_rows(tmp_path / "b.csv", TRADE_HEADER, changed), TickKind.TRADE, INSTRUMENT
    )
    assert (summary.rows_written, summary.rows_already_present) == (0, 8)
    refused = rejects(summary.rejects_path)
    assert [(r["row"], r["field"], r["reason"]) for r in refused] == [
        ("5", "trade_id", RejectReason.CONFLICTS_WITH_CATALOG.value),
        ("8", "timestamp", RejectReason.CONFLICTS_WITH_CATALOG.value),
    ]
    assert refused[0]["value"] == changed[3][4]  # the trade id the catalog holds otherwise
    assert "price 103.01" in refused[0]["detail"]
    assert refused[1]["value"].startswith("2024-01-01T")  # when the missing trade happened
    assert "only appended after the last stored tick" in refused[1]["detail"]
    assert snapshot(desk_with_crypto.home / "catalog") == before


def test_book_sequences_continue_from_the_catalog(
    desk_with_crypto: Platform, tmp_path: Path
) -> None:
    header = ("timestamp", "action", "side", "price", "size", "sequence")
    ticks = desk_with_crypto.ticks
    first = [[T0 // 10**6 + i, "ADD", "BUY", "100.00", "1.000", 10 + i] for i in range(3)]
    ticks.ingest(write_rows(tmp_path / "a.csv", header, first), TickKind.DELTA, INSTRUMENT)
    later = [
        [T0 // 10**6 + 5, "ADD", "BUY", "100.00", "1.000", 3],
        [T0 // 10**6 + 6, "ADD", "BUY", "100.00", "1.000", 12],
    ]
    summary = ticks.ingest(
        write_rows(tmp_path / "b.csv", header, later), TickKind.DELTA, INSTRUMENT
    )
    assert summary.rows_written == 1
    assert [r["reason"] for r in rejects(summary.rejects_path)] == ["sequence_decreasing"]


class FailingSource:
    """The real reader, failing after its first chunk (a disk error, a kill)."""

    def read_ticks(
        self, path: Path, kind: TickKind, options: TickIngestOptions
    ) -> Iterator[RawTicks]:
        chunks = TickFileSource().read_ticks(path, kind, options)
        yield next(chunks)
        yield next(chunks)
        raise SourceReadError(f"{path}: the disk went away")


def test_a_failure_midway_leaves_the_catalog_as_it_was(
    desk_with_crypto: Platform, tmp_path: Path
) -> None:
    root = desk_with_crypto.home / "catalog"
    before = snapshot(root)
    service = TickIngestService(
        ParquetCatalog(root),
        NautilusTickStore(root),
        FailingSource(),
        tmp_path / "ingest",
    )
    path = write_rows(tmp_path / "a.csv", TRADE_HEADER, trades(30))
    with pytest.raises(SourceReadError):
        service.ingest(path, TickKind.TRADE, INSTRUMENT, TickIngestOptions(chunk_rows=10))
    assert snapshot(root) == before
    assert not list((root / ".txn").glob("*/staged"))


def test_quoted_cells_blank_and_malformed_lines_keep_their_line_numbers(
    desk_with_crypto: Platform, tmp_path: Path
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(
        "timestamp,price,size,aggressor_side,trade_id\n"
        f'{iso(T0)},100.01,1,BUYER,"a,1"\n'
        "\n"
        f"{iso(T0 + 1)},100.01,1\n"
        f'{iso(T0 + 2)},100.01,0,BUYER,"multi\nline"\n'
        f"{iso(T0 + 3)},100.01,1,SELLER,b\n"
    )
    summary = desk_with_crypto.ticks.ingest(path, TickKind.TRADE, INSTRUMENT)
    assert summary.rows_written == 2
    assert [(r["row"], r["reason"]) for r in rejects(summary.rejects_path)] == [
        ("4", "malformed_row"),
        ("5", "trade_id_invalid"),  # a line break is no printable character
    ]


def test_malformed_lines_in_a_plain_file_are_numbered_across_chunks(
    desk_with_crypto: Platform, tmp_path: Path
) -> None:
    lines = [",".join(str(c) for c in row) for row in trades(12)]
    lines[2], lines[7] = "only,two", "x"
    path = tmp_path / "plain.csv"
    path.write_text(",".join(TRADE_HEADER) + "\n" + "\n".join(lines) + "\n")
    summary = desk_with_crypto.ticks.ingest(
        path, TickKind.TRADE, INSTRUMENT, TickIngestOptions(chunk_rows=3)
    )
    assert [(r["row"], r["reason"]) for r in rejects(summary.rejects_path)] == [
        ("4", "malformed_row"),
        ("9", "malformed_row"),
    ]
    engine = ParquetDataCatalog(str(desk_with_crypto.home / "catalog")).trade_ticks()
    assert [t.trade_id.value for t in engine] == [f"t{i}" for i in range(12) if i not in (2, 7)]


def test_parquet_and_gzip_files_are_read(desk_with_crypto: Platform, tmp_path: Path) -> None:
    table = pa.table(
        {
            "time": pa.array([T0, T0 + 1, T0 + 2], type=pa.timestamp("ns", tz="UTC")),
            "bid": [100.0, 100.01, -1.0],
            "ask": [100.02, 100.03, 100.04],
            "bid_size": [1.0, 2.0, 3.0],
            "ask_size": [1.0, 2.0, 3.0],
        }
    )
    pq.write_table(table, tmp_path / "q.parquet")
    options = TickIngestOptions(columns={"timestamp": "time"})
    summary = desk_with_crypto.ticks.ingest(
        tmp_path / "q.parquet", TickKind.QUOTE, INSTRUMENT, options
    )
    assert (summary.rows_written, summary.rejected_by_reason) == (2, {"price_not_positive": 1})
    assert rejects(summary.rejects_path)[0]["row"] == "3"
    with gzip.open(tmp_path / "t.csv.gz", "wt") as handle:
        handle.write(",".join(TRADE_HEADER) + "\n")
        handle.write("\n".join(",".join(map(str, r)) for r in trades(4)) + "\n")
    gz = desk_with_crypto.ticks.ingest(tmp_path / "t.csv.gz", TickKind.TRADE, INSTRUMENT)
    assert gz.rows_written == 4


def test_nothing_valid_and_missing_columns_are_clear_errors(
    desk_with_crypto: Platform, tmp_path: Path
) -> None:
    bad = write_rows(tmp_path / "bad.csv", TRADE_HEADER, [["x", "1", "1", "BUYER", "a"]])
    with pytest.raises(NothingValidError, match="timestamp_unparseable"):
        desk_with_crypto.ticks.ingest(bad, TickKind.TRADE, INSTRUMENT)
    quotes = write_rows(tmp_path / "q.csv", ("timestamp", "bid", "ask"), [[iso(T0), "1", "2"]])
    with pytest.raises(SourceReadError, match="bid_size"):
        desk_with_crypto.ticks.ingest(quotes, TickKind.QUOTE, INSTRUMENT)


def test_real_usdjpy_quotes(desk: Platform) -> None:
    path = shared_file("usdjpy-ticks.csv")
    desk.instruments.add(
        InstrumentSpec.model_validate(
            {
                "instrument_id": "USD/JPY.SIM",
                "asset_class": AssetClass.FX,
                "currency": "JPY",
                "base_currency": "USD",
                "tick_size": "0.001",
            }
        )
    )
    summary = desk.ticks.ingest(
        path, TickKind.QUOTE, "USD/JPY.SIM", TickIngestOptions(default_size=1_000_000)
    )
    assert (summary.rows_read, summary.rows_written, summary.rows_rejected) == (1000, 1000, 0)
    with path.open() as handle:
        source = list(csv.DictReader(handle))
    engine = ParquetDataCatalog(str(desk.home / "catalog")).quote_ticks()
    assert [(str(q.bid_price), str(q.ask_price)) for q in engine] == [
        (r["bid"], r["ask"]) for r in source
    ]
    assert engine[0].ts_event == 1_357_077_600_295_000_000  # 2013-01-01 22:00:00.295 UTC


def binance_deltas(path: Path, out: Path) -> Path:
    """Binance depth rows as book deltas: a snapshot is a CLEAR and ADDs, qty 0 deletes."""
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    lines = []
    if rows[0]["update_type"] == "snap":
        lines.append([rows[0]["timestamp"], "CLEAR", "", "", "", rows[0]["last_update_id"]])
    for r in rows:
        action = "ADD" if r["update_type"] == "snap" else "UPDATE"
        action = "DELETE" if float(r["qty"]) == 0 else action
        lines.append([r["timestamp"], action, r["side"], r["price"], r["qty"], r["last_update_id"]])
    return write_rows(out, ("timestamp", "action", "side", "price", "size", "sequence"), lines)


def test_real_binance_depth_snapshot_and_updates(desk: Platform, tmp_path: Path) -> None:
    snap = binance_deltas(shared_file("btcusdt-depth-snap.csv"), tmp_path / "snap.csv")
    update = binance_deltas(shared_file("btcusdt-depth-update.csv"), tmp_path / "update.csv")
    desk.instruments.add(
        InstrumentSpec.model_validate(
            {
                "instrument_id": "BTCUSDT-PERP.BINANCE",
                "asset_class": AssetClass.CRYPTO_PERPETUAL,
                "currency": "USDT",
                "base_currency": "BTC",
                "settlement_currency": "USDT",
                "tick_size": "0.1",
                "size_increment": "0.001",
            }
        )
    )
    first = desk.ticks.ingest(snap, TickKind.DELTA, "BTCUSDT-PERP.BINANCE")
    second = desk.ticks.ingest(update, TickKind.DELTA, "BTCUSDT-PERP.BINANCE")
    assert (first.rows_written, first.rows_rejected) == (101, 0)
    assert (second.rows_written, second.rows_rejected) == (100, 0)
    engine = ParquetDataCatalog(str(desk.home / "catalog"))
    deltas = engine.order_book_deltas(instrument_ids=["BTCUSDT-PERP.BINANCE"])
    events = len({d.ts_event for d in deltas})
    assert len(engine.order_book_deltas(batched=True)) == events  # F_LAST closes every event
    book = OrderBook(InstrumentId.from_str("BTCUSDT-PERP.BINANCE"), BookType.L2_MBP)
    for delta in deltas[: first.rows_written]:
        book.apply_delta(delta)
    assert str(book.best_bid_price()) == "20377.0"  # the engine's own book, from the catalog
    assert first.warnings_by_kind == {}  # a real snapshot is not crossed


def test_rejects_stay_in_row_order_when_a_held_event_is_refused_a_chunk_later(
    desk_with_crypto: Platform, tmp_path: Path
) -> None:
    """The last event of a chunk is judged with the next chunk; a rejection after it in the
    same chunk waits, so the rejects file stays in row order."""
    ticks = desk_with_crypto.ticks
    ticks.ingest(
        write_rows(tmp_path / "a.csv", TRADE_HEADER, trades(6)), TickKind.TRADE, INSTRUMENT
    )
    again = trades(6)
    again[2][1] = "999.99"  # line 4: a stored trade with another price, held for chunk 3
    again[3][2] = "0"  # line 5: invalid, found while line 4 is still held
    summary = ticks.ingest(
        write_rows(tmp_path / "b.csv", TRADE_HEADER, again),
        TickKind.TRADE,
        INSTRUMENT,
        TickIngestOptions(chunk_rows=2),
    )
    assert [(r["row"], r["reason"]) for r in rejects(summary.rejects_path)] == [
        ("4", "conflicts_with_catalog"),
        ("5", "size_not_positive"),
    ]


def test_float_noise_in_a_file_is_stored_as_its_decimal_and_reingests_as_present(
    desk_with_crypto: Platform, tmp_path: Path
) -> None:
    # 42000.100000000006 and 0.30000000000000004: a program's rendering of 42000.10 and
    # 0.300 (on the grid within float noise: valid); the engine stores the decimals, so
    # the same file ingested again must find every tick already there, not in conflict
    ticks = desk_with_crypto.ticks
    header = ("timestamp", "bid", "ask", "bid_size", "ask_size")
    rows = [
        [iso(T0), "42000.100000000006", "42000.20", "1.000", "0.30000000000000004"],
        [iso(T0 + SECOND), "42000.10", "42000.20", "1.000", "1.000"],
    ]
    trade = [[iso(T0), "42000.100000000006", "0.30000000000000004", "BUYER", "t1"]]
    for kind, file, head, data in [
        (TickKind.QUOTE, "q.csv", header, rows),
        (TickKind.TRADE, "t.csv", TRADE_HEADER, trade),
    ]:
        path = write_rows(tmp_path / file, head, data)
        first = ticks.ingest(path, kind, INSTRUMENT)
        again = ticks.ingest(path, kind, INSTRUMENT)
        assert (first.rows_written, first.rows_rejected) == (len(data), 0)
        assert (again.rows_written, again.rows_already_present, again.rows_rejected) == (
            0,
            len(data),
            0,
        )
    engine = ParquetDataCatalog(str(desk_with_crypto.home / "catalog"))
    assert str(engine.quote_ticks()[0].bid_price) == "42000.10"
    assert str(engine.trade_ticks()[0].size) == "0.300"
