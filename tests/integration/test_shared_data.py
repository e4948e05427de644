"""Real market data from ../shared/data through the whole ingest path (skipped without it)."""

from decimal import Decimal

import numpy as np
import pandas as pd
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarIngestOptions, TimestampAt
from quantdesk.services.platform import Platform
from support.environment import shared_file

GBPUSD = InstrumentSpec(
    instrument_id="GBP/USD.SIM",
    asset_class=AssetClass.FX,
    currency="USD",
    base_currency="GBP",
    tick_size=Decimal("0.00001"),
)


def test_gbpusd_bid_bars_without_volume(desk: Platform) -> None:
    path = shared_file("gbpusd-m1-bid-2012.csv")
    desk.instruments.add(GBPUSD)
    options = BarIngestOptions(timestamp_at=TimestampAt.OPEN, default_volume=1_000_000)
    summary = desk.ingest.ingest_bars(path, "GBP/USD.SIM", "1-MINUTE-BID", options)
    source = pd.read_csv(path)
    assert (summary.rows_read, summary.rows_written, summary.rows_rejected) == (
        len(source),
        len(source),
        0,
    )
    bars = ParquetDataCatalog(str(desk.home / "catalog")).bars(
        bar_types=["GBP/USD.SIM-1-MINUTE-BID-EXTERNAL"]
    )
    opens = pd.to_datetime(source["timestamp"], utc=True).astype("int64").to_numpy()
    assert np.array_equal(np.array([b.ts_init for b in bars]), opens + 60_000_000_000)
    assert [str(b.close) for b in bars[:3]] == [f"{x:.5f}" for x in source["close"][:3]]


def test_btc_perp_precision_is_enforced_then_rounded_on_request(desk: Platform) -> None:
    path = shared_file("btc-perp-20211231-20220201_1m.csv")
    coarse = InstrumentSpec(
        instrument_id="BTCUSDT-PERP.BINANCE",
        asset_class=AssetClass.CRYPTO_PERPETUAL,
        currency="USDT",
        base_currency="BTC",
        tick_size=Decimal("0.1"),
        size_increment=Decimal("0.0001"),
    )
    desk.instruments.add(coarse)
    strict = BarIngestOptions(assume_utc=True, timestamp_at=TimestampAt.OPEN)
    summary = desk.ingest.ingest_bars(path, "BTCUSDT-PERP.BINANCE", "1-MINUTE-LAST", strict)
    source = pd.read_csv(path)
    off_tick = (
        ~np.isclose(source[["open", "high", "low", "close"]] * 10 % 1, 0)
        & ~np.isclose(source[["open", "high", "low", "close"]] * 10 % 1, 1)
    ).any(axis=1)
    assert summary.rejected_by_reason.get("price_precision", 0) == int(off_tick.sum())
    assert summary.rows_written + summary.rows_rejected == len(source)
    rounded = desk.ingest.ingest_bars(
        path,
        "BTCUSDT-PERP.BINANCE",
        "1-MINUTE-LAST",
        BarIngestOptions(assume_utc=True, timestamp_at=TimestampAt.OPEN, round_to_instrument=True),
    )
    assert rounded.rows_rejected == 0
    assert rounded.rows_written == summary.rows_rejected
    assert rounded.rows_rounded >= rounded.rows_written
    (entry,) = desk.catalog.entries()
    assert entry.count == len(source)
