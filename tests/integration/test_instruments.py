"""Instruments stored in the catalog as the engine's own instrument types."""

from decimal import Decimal
from pathlib import Path

import pytest
from nautilus_trader.model.enums import AssetClass as EngineAssetClass
from nautilus_trader.model.enums import OptionKind as EngineOptionKind
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.instruments import (
    CryptoFuture,
    CryptoPerpetual,
    CurrencyPair,
    Equity,
    FuturesContract,
    OptionContract,
)
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
from nautilus_trader.test_kit.providers import TestInstrumentProvider

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.contract_terms import ExerciseStyle, OptionKind, UnderlyingClass
from quantdesk.domain.errors import ConflictError, NotFoundError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.ticks import TickKind
from quantdesk.services.platform import Platform
from support.bars import rows

SPECS = [
    InstrumentSpec(
        instrument_id="AAPL.XNAS",
        asset_class=AssetClass.EQUITY,
        currency="USD",
        tick_size=Decimal("0.01"),
        lot_size=Decimal(100),
        taker_fee=Decimal("0.0005"),
    ),
    InstrumentSpec(
        instrument_id="EUR/USD.SIM",
        asset_class=AssetClass.FX,
        currency="USD",
        base_currency="EUR",
        tick_size=Decimal("0.00001"),
        size_increment=Decimal(1),
    ),
    InstrumentSpec(
        instrument_id="BTC/USDT.BINANCE",
        asset_class=AssetClass.CRYPTO_SPOT,
        currency="USDT",
        base_currency="BTC",
        tick_size=Decimal("0.01"),
        size_increment=Decimal("0.00001"),
    ),
    InstrumentSpec(
        instrument_id="BTCUSDT-PERP.BINANCE",
        asset_class=AssetClass.CRYPTO_PERPETUAL,
        currency="USDT",
        base_currency="BTC",
        settlement_currency="USDT",
        tick_size=Decimal("0.1"),
        size_increment=Decimal("0.001"),
        margin_init=Decimal("0.05"),
    ),
    InstrumentSpec(
        instrument_id="6EH4.XCME",
        asset_class=AssetClass.FUTURE,
        underlying="EUR",
        underlying_class=UnderlyingClass.FX,
        currency="USD",
        tick_size=Decimal("0.00005"),
        multiplier=Decimal(125_000),
        activation_ns=1_678_741_200_000_000_000,
        expiration_ns=1_710_771_360_000_000_000,
        margin_init=Decimal("0.022"),
        margin_maint=Decimal("0.02"),
    ),
    InstrumentSpec(
        instrument_id="AAPL240419P00170000.OPRA",
        asset_class=AssetClass.OPTION,
        underlying="AAPL.XNAS",
        option_kind=OptionKind.PUT,
        strike=Decimal(170),
        exercise_style=ExerciseStyle.AMERICAN,
        currency="USD",
        tick_size=Decimal("0.01"),
        multiplier=Decimal(100),
        expiration_ns=1_713_556_800_000_000_000,
    ),
    InstrumentSpec(
        instrument_id="BTCUSDT-240329.BINANCE",
        asset_class=AssetClass.CRYPTO_FUTURE,
        base_currency="BTC",
        currency="USDT",
        tick_size=Decimal("0.1"),
        size_increment=Decimal("0.001"),
        activation_ns=1_702_627_200_000_000_000,
        expiration_ns=1_711_699_200_000_000_000,
    ),
]
ENGINE_TYPES = [
    Equity,
    CurrencyPair,
    CurrencyPair,
    CryptoPerpetual,
    FuturesContract,
    OptionContract,
    CryptoFuture,
]


def test_every_asset_class_round_trips_as_an_engine_instrument(desk: Platform) -> None:
    for spec in SPECS:
        assert desk.instruments.add(spec) is True
    assert desk.instruments.list() == sorted(SPECS, key=lambda s: s.instrument_id)
    engine = ParquetDataCatalog(str(desk.home / "catalog"))
    for spec, kind in zip(SPECS, ENGINE_TYPES, strict=True):
        (instrument,) = engine.instruments(instrument_ids=[spec.instrument_id])
        assert type(instrument) is kind
        assert instrument.price_precision == spec.price_precision
        assert instrument.size_precision == spec.size_precision
        assert instrument.price_increment.as_decimal() == spec.tick_size
        assert instrument.quote_currency.code == spec.currency
        assert desk.instruments.get(spec.instrument_id) == spec


def test_dated_contracts_carry_their_terms_into_the_engine(desk: Platform) -> None:
    for spec in SPECS[4:]:
        desk.instruments.add(spec)
    engine = ParquetDataCatalog(str(desk.home / "catalog"))
    (future,) = engine.instruments(instrument_ids=["6EH4.XCME"])
    assert future.multiplier.as_decimal() == 125_000
    assert future.underlying == "EUR"
    assert future.asset_class == EngineAssetClass.FX
    assert (future.activation_ns, future.expiration_ns) == (
        SPECS[4].activation_ns,
        SPECS[4].expiration_ns,
    )
    assert future.margin_init == Decimal("0.022")
    (put,) = engine.instruments(instrument_ids=["AAPL240419P00170000.OPRA"])
    assert put.option_kind == EngineOptionKind.PUT
    assert put.strike_price.as_decimal() == 170
    assert put.underlying == "AAPL.XNAS"
    assert put.asset_class == EngineAssetClass.EQUITY
    (btc,) = engine.instruments(instrument_ids=["BTCUSDT-240329.BINANCE"])
    assert btc.underlying.code == "BTC"
    assert btc.expiration_ns == SPECS[6].expiration_ns


def test_futures_bars_ingest_against_the_future(desk: Platform, tmp_path: Path) -> None:
    """Futures data a test adds ingests as the future it is: the catalog's instrument is a
    FuturesContract and the bars are on it (6E prices at its 0.00005 tick)."""
    desk.instruments.add(SPECS[4])
    csv = tmp_path / "6e.csv"
    closes = ["1.09050", "1.09055", "1.09045", "1.09060", "1.09065"]
    lines = ["timestamp,open,high,low,close,volume"]
    for i, (row, close) in enumerate(zip(rows(5), closes, strict=True)):
        lines.append(f"{row[0]},1.09050,1.09070,1.09040,{close},{10 + i}")
    csv.write_text("\n".join(lines) + "\n")
    summary = desk.ingest.ingest_bars(csv, "6EH4.XCME", "1-MINUTE-LAST")
    assert (summary.rows_written, summary.rows_rejected) == (5, 0)
    engine = ParquetDataCatalog(str(desk.home / "catalog"))
    assert type(engine.instruments(instrument_ids=["6EH4.XCME"])[0]) is FuturesContract
    assert len(engine.bars(bar_types=["6EH4.XCME-1-MINUTE-LAST-EXTERNAL"])) == 5


def test_option_quotes_ingest_per_contract(desk: Platform, tmp_path: Path) -> None:
    """Options data as quotes: a contract's bid/ask ticks land in the catalog on it."""
    desk.instruments.add(SPECS[5])
    csv = tmp_path / "put.csv"
    csv.write_text(
        "timestamp,bid,ask,bid_size,ask_size\n"
        "2024-01-02T14:30:00Z,5.10,5.20,10,12\n"
        "2024-01-02T14:30:01Z,5.11,5.21,10,12\n"
    )
    summary = desk.ticks.ingest(csv, TickKind.QUOTE, "AAPL240419P00170000.OPRA")
    assert (summary.rows_written, summary.rows_rejected) == (2, 0)
    engine = ParquetDataCatalog(str(desk.home / "catalog"))
    quotes = engine.quote_ticks(instrument_ids=["AAPL240419P00170000.OPRA"])
    assert [q.ask_price.as_double() for q in quotes] == [5.20, 5.21]


def test_adding_the_same_definition_twice_is_a_no_op(desk: Platform) -> None:
    assert desk.instruments.add(SPECS[0]) is True
    assert desk.instruments.add(SPECS[0]) is False


def test_redefinition_needs_replace_and_no_data(desk: Platform, tmp_path: Path) -> None:
    desk.instruments.add(SPECS[0])
    wider = SPECS[0].model_copy(update={"tick_size": Decimal("0.05")})
    with pytest.raises(ConflictError, match="already defined differently") as refused:
        desk.instruments.add(wider)
    assert (refused.value.code, refused.value.data) == (
        "instrument_exists",
        {"instrument_id": "AAPL.XNAS"},
    )
    assert desk.instruments.add(wider, replace=True) is True
    assert desk.instruments.get("AAPL.XNAS").tick_size == Decimal("0.05")
    csv = tmp_path / "bars.csv"
    lines = [",".join(map(str, r)) for r in rows(3, price=100.0)]
    csv.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    desk.instruments.add(SPECS[0], replace=True)
    desk.ingest.ingest_bars(csv, "AAPL.XNAS", "1-MINUTE-LAST")
    with pytest.raises(ConflictError, match="cannot be redefined"):
        desk.instruments.add(wider, replace=True)


def test_redefining_with_another_class_leaves_one_file(desk: Platform) -> None:
    fx = SPECS[1]
    desk.instruments.add(fx)
    as_crypto = fx.model_copy(update={"asset_class": AssetClass.CRYPTO_SPOT})
    desk.instruments.add(as_crypto, replace=True)
    assert desk.instruments.get(fx.instrument_id).asset_class is AssetClass.CRYPTO_SPOT
    files = list((desk.home / "catalog" / "data").rglob("*.parquet"))
    assert len(files) == 1


def test_instruments_written_by_other_tools_are_described(tmp_path: Path) -> None:
    root = tmp_path / "home" / "catalog"
    engine = ParquetDataCatalog(str(root))
    engine.write_data([TestInstrumentProvider.default_fx_ccy("GBP/USD", Venue("SIM"))])
    engine.write_data([TestInstrumentProvider.btcusdt_perp_binance()])
    desk = bootstrap(home=tmp_path / "home")
    fx = desk.instruments.get("GBP/USD.SIM")
    assert (fx.asset_class, fx.base_currency, fx.price_precision) == (AssetClass.FX, "GBP", 5)
    perp = desk.instruments.get("BTCUSDT-PERP.BINANCE")
    assert perp.asset_class is AssetClass.CRYPTO_PERPETUAL
    assert perp.settlement_currency == "USDT"


def test_unknown_instrument(desk: Platform) -> None:
    with pytest.raises(NotFoundError, match="instruments list"):
        desk.instruments.get("NOPE.XNAS")
