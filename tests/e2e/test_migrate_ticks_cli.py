"""``quantdesk data migrate`` on the example tick tables (``examples/postgres/ticks.sql`` with
trades.yaml, quotes.yaml, book.yaml) in a real PostgreSQL database: the engine's own catalog
reads what lands, bad rows are rejected with their reason, a late trade takes its place on
the next run, a crossed quote is kept and reported, and verify passes on all three."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from nautilus_trader.model.book import OrderBook
from nautilus_trader.model.data import OrderBookDelta
from nautilus_trader.model.enums import BookType
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from support.console import Cli
from support.postgres_examples import POSTGRES, example_cli, example_tables

pytestmark = pytest.mark.services

START = datetime(2024, 3, 1, tzinfo=UTC)
START_NS = int(START.timestamp()) * 10**9


@pytest.fixture
def source() -> Iterator[str]:
    with example_tables("ticks.sql") as url:
        yield url


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return example_cli(tmp_path, monkeypatch)


def run(dsn: str, statement: str, rows: list[tuple[object, ...]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as db, db.cursor() as cursor:
        cursor.executemany(statement, rows)


TRADE = (
    "INSERT INTO market.trades (ts, symbol, price, qty, side, trade_id) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
QUOTE = (
    "INSERT INTO market.quotes (ts, symbol, bid, ask, bid_qty, ask_qty) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
DELTA = (
    "INSERT INTO market.book_deltas (ts_ns, symbol, action, side, price, qty, order_id, seq) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


def migrate(cli: Cli, mapping: str, source: str) -> dict[str, object]:
    args = ("data", "migrate", "--mapping", POSTGRES / mapping, "--source", source, "--json")
    found: dict[str, object] = json.loads(cli.stdout(*args))
    return found


def verified(cli: Cli, mapping: str, source: str) -> str:
    return cli.ok("data", "verify", "--mapping", POSTGRES / mapping, "--source", source)


def test_trades_land_in_the_engines_catalog_and_a_late_one_takes_its_place(
    cli: Cli, source: str
) -> None:
    trades = [
        (
            START + timedelta(seconds=s),
            sym,
            "42000.5",
            "0.125",
            "buy" if s % 2 else "sell",
            f"{sym}-{s}",
        )
        for s in range(0, 20, 2)
        for sym in ("BTCUSDT", "ETHUSDT")
    ]
    run(source, TRADE, [*trades, (START, "BTCUSDT", "42000.5", "0.125", "hold", "x-1")])
    first = migrate(cli, "trades.yaml", source)
    assert (first["rows_read"], first["rows_written"], first["rows_rejected"]) == (21, 20, 1)
    rejects = cli.ok("data", "migration-rejects", str(first["migration_id"]))
    assert "side_invalid" in rejects and "hold" in rejects
    engine = ParquetDataCatalog(str(cli.home / "catalog"))
    btc = engine.trade_ticks(instrument_ids=["BTCUSDT.BINANCE"])
    assert [t.trade_id.value for t in btc] == [f"BTCUSDT-{s}" for s in range(0, 20, 2)]
    assert str(btc[0].price) == "42000.50" and str(btc[0].size) == "0.12500"
    run(source, TRADE, [(START + timedelta(seconds=5), "BTCUSDT", "42001", "0.5", "buy", "late")])
    second = migrate(cli, "trades.yaml", source)
    assert second["rows_written"] == 1 and second["late_days"]
    btc = ParquetDataCatalog(str(cli.home / "catalog")).trade_ticks(
        instrument_ids=["BTCUSDT.BINANCE"]
    )
    assert [t.trade_id.value for t in btc][2:4] == ["BTCUSDT-4", "late"]
    assert "verify passed" in verified(cli, "trades.yaml", source)


def test_quotes_and_a_book_migrate_and_the_engine_rebuilds_the_book(cli: Cli, source: str) -> None:
    quotes = [
        (START + timedelta(seconds=s), "BTCUSDT", "41999.9", "42000.1", "1.5", "2")
        for s in range(10)
    ]
    crossed = (START + timedelta(seconds=10), "BTCUSDT", "42000.2", "42000.1", "1", "1")
    run(source, QUOTE, [*quotes, crossed])
    args = ("data", "migrate", "--mapping", POSTGRES / "quotes.yaml", "--source", source)
    assert "kept, but look wrong: crossed_quote x1" in cli.ok(*args)  # kept, and said
    ns = START_NS
    deltas = [
        (ns, "BTCUSDT", "clear", None, None, None, None, 1),
        (ns, "BTCUSDT", "add", "bid", "41999.5", "1", 11, 2),
        (ns, "BTCUSDT", "add", "ask", "42000.5", "2", 12, 3),
        (ns + 10**9, "BTCUSDT", "add", "bid", "42000.0", "0.5", 13, 4),
        (ns + 2 * 10**9, "BTCUSDT", "delete", "bid", "42000.0", "0", 13, 5),
        (ns + 2 * 10**9, "BTCUSDT", "update", "ask", "42000.5", "3", 12, 6),
        (ns + 3 * 10**9, "ETHUSDT", "add", "bid", "3000", "1", 14, 1),  # filtered out
        (ns + 3 * 10**9, "BTCUSDT", "add", "bid", "-5", "1", 15, 7),  # price <= 0
    ]
    run(source, DELTA, deltas)
    book = migrate(cli, "book.yaml", source)
    assert (book["rows_read"], book["rows_written"], book["rows_rejected"]) == (7, 6, 1)
    engine = ParquetDataCatalog(str(cli.home / "catalog"))
    stored: list[OrderBookDelta] = engine.order_book_deltas()
    assert [d.flags for d in stored] == [0, 0, 128, 128, 0, 128]  # F_LAST closes each instant
    rebuilt = OrderBook(InstrumentId.from_str("BTCUSDT.BINANCE"), BookType.L2_MBP)
    for delta in stored:
        rebuilt.apply_delta(delta)
    assert str(rebuilt.best_bid_price()) == "41999.50"
    assert str(rebuilt.best_ask_size()) == "3.00000"
    assert len(engine.quote_ticks()) == 11
    for mapping in ("quotes.yaml", "book.yaml"):
        assert "verify passed" in verified(cli, mapping, source)
