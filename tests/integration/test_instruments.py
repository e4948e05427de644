"""Instruments stored in the catalog as the engine's own instrument types."""

from decimal import Decimal
from pathlib import Path

import pytest
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair, Equity
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
from nautilus_trader.test_kit.providers import TestInstrumentProvider

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.errors import ConflictError, NotFoundError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
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
]
ENGINE_TYPES = [Equity, CurrencyPair, CurrencyPair, CryptoPerpetual]


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
