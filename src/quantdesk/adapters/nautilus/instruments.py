"""Instrument specs to NautilusTrader instruments and back, losslessly.

The spec travels inside the instrument's ``info`` so reading it back gives the very spec that
was stored; instruments written by other tools are described from their own fields.
"""

from decimal import Decimal
from typing import Any

from nautilus_trader.model.enums import AssetClass as NautilusAssetClass
from nautilus_trader.model.enums import CurrencyType
from nautilus_trader.model.enums import OptionKind as NautilusOptionKind
from nautilus_trader.model.identifiers import InstrumentId, Symbol
from nautilus_trader.model.instruments import (
    CryptoFuture,
    CryptoPerpetual,
    CurrencyPair,
    Equity,
    FuturesContract,
    Instrument,
    OptionContract,
)
from nautilus_trader.model.objects import Currency, Price, Quantity

from quantdesk.domain.contract_terms import OptionKind, UnderlyingClass
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec

SPEC_KEY = "quantdesk_spec"
_ASSET_CLASSES = {
    UnderlyingClass.EQUITY: NautilusAssetClass.EQUITY,
    UnderlyingClass.INDEX: NautilusAssetClass.INDEX,
    UnderlyingClass.FX: NautilusAssetClass.FX,
    UnderlyingClass.COMMODITY: NautilusAssetClass.COMMODITY,
    UnderlyingClass.RATES: NautilusAssetClass.DEBT,
    UnderlyingClass.CRYPTO: NautilusAssetClass.CRYPTOCURRENCY,
}
_UNDERLYING_CLASSES = {engine: ours for ours, engine in _ASSET_CLASSES.items()}


def _currency(code: str) -> Currency:
    try:
        return Currency.from_str(code)
    except Exception as error:  # the engine raises bare ValueError/KeyError variants
        raise InvalidInputError(
            f"unknown currency {code!r}", hint="use an ISO 4217 or a listed crypto code"
        ) from error


def to_nautilus(spec: InstrumentSpec) -> Instrument:
    instrument_id = InstrumentId.from_str(spec.instrument_id)
    symbol = Symbol(spec.symbol)
    price_increment = Price.from_str(_plain(spec.tick_size))
    common = {
        "margin_init": spec.margin_init,
        "margin_maint": spec.margin_maint,
        "maker_fee": spec.maker_fee,
        "taker_fee": spec.taker_fee,
        "info": {SPEC_KEY: spec.model_dump_json()},
    }
    if spec.asset_class in (AssetClass.FUTURE, AssetClass.OPTION):
        return _contract(spec, instrument_id, symbol, price_increment, common)
    if spec.asset_class is AssetClass.EQUITY:
        return Equity(
            instrument_id=instrument_id,
            raw_symbol=symbol,
            currency=_currency(spec.currency),
            price_precision=spec.price_precision,
            price_increment=price_increment,
            lot_size=Quantity.from_str(_plain(spec.lot_size or Decimal(1))),
            ts_event=0,
            ts_init=0,
            **common,
        )
    assert spec.base_currency is not None  # enforced by InstrumentSpec
    sizes = {
        "price_precision": spec.price_precision,
        "size_precision": spec.size_precision,
        "price_increment": price_increment,
        "size_increment": Quantity.from_str(_plain(spec.size_increment)),
        "multiplier": Quantity.from_str(_plain(spec.multiplier)),
        "lot_size": Quantity.from_str(_plain(spec.lot_size)) if spec.lot_size else None,
    }
    if spec.asset_class is AssetClass.CRYPTO_FUTURE:
        assert spec.expiration_ns is not None  # enforced by InstrumentSpec
        return CryptoFuture(
            instrument_id=instrument_id,
            raw_symbol=symbol,
            underlying=_currency(spec.base_currency),
            quote_currency=_currency(spec.currency),
            settlement_currency=_currency(spec.settlement_currency or spec.currency),
            is_inverse=spec.is_inverse,
            activation_ns=spec.activation_ns or 0,
            expiration_ns=spec.expiration_ns,
            ts_event=0,
            ts_init=0,
            **sizes,
            **common,
        )
    if spec.asset_class is AssetClass.CRYPTO_PERPETUAL:
        return CryptoPerpetual(
            instrument_id=instrument_id,
            raw_symbol=symbol,
            base_currency=_currency(spec.base_currency),
            quote_currency=_currency(spec.currency),
            settlement_currency=_currency(spec.settlement_currency or spec.currency),
            is_inverse=spec.is_inverse,
            ts_event=0,
            ts_init=0,
            **sizes,
            **common,
        )
    return CurrencyPair(
        instrument_id=instrument_id,
        raw_symbol=symbol,
        base_currency=_currency(spec.base_currency),
        quote_currency=_currency(spec.currency),
        ts_event=0,
        ts_init=0,
        **sizes,
        **common,
    )


def _contract(
    spec: InstrumentSpec,
    instrument_id: InstrumentId,
    symbol: Symbol,
    price_increment: Price,
    common: dict[str, Any],
) -> Instrument:
    """A future or an option: whole contracts, an underlying, a multiplier, dates."""
    assert spec.underlying is not None and spec.expiration_ns is not None  # by InstrumentSpec
    terms = {
        "instrument_id": instrument_id,
        "raw_symbol": symbol,
        "asset_class": _ASSET_CLASSES[spec.contract_class],
        "currency": _currency(spec.currency),
        "price_precision": spec.price_precision,
        "price_increment": price_increment,
        "multiplier": Quantity.from_str(_plain(spec.multiplier)),
        "lot_size": Quantity.from_int(1),
        "underlying": spec.underlying,
        "activation_ns": spec.activation_ns or 0,
        "expiration_ns": spec.expiration_ns,
        "ts_event": 0,
        "ts_init": 0,
        "exchange": spec.exchange or spec.venue,
    }
    if spec.asset_class is AssetClass.FUTURE:
        return FuturesContract(**terms, **common)
    assert spec.strike is not None and spec.option_kind is not None  # by InstrumentSpec
    return OptionContract(
        **terms,
        option_kind=NautilusOptionKind.CALL
        if spec.option_kind is OptionKind.CALL
        else NautilusOptionKind.PUT,
        strike_price=Price.from_str(_plain(spec.strike)),
        **common,
    )


def _described_contract(instrument: Instrument, common: dict[str, Any]) -> InstrumentSpec | None:
    """A future or option written by another tool, described from its own fields."""
    terms = {
        "multiplier": instrument.multiplier.as_decimal(),
        "underlying": instrument.underlying,
        "underlying_class": _UNDERLYING_CLASSES.get(instrument.asset_class),
        "exchange": instrument.exchange,
        "activation_ns": instrument.activation_ns,
        "expiration_ns": instrument.expiration_ns,
    }
    if isinstance(instrument, FuturesContract):
        return InstrumentSpec(asset_class=AssetClass.FUTURE, **terms, **common)
    kind = OptionKind.CALL if instrument.option_kind == NautilusOptionKind.CALL else OptionKind.PUT
    return InstrumentSpec(
        asset_class=AssetClass.OPTION,
        option_kind=kind,
        strike=instrument.strike_price.as_decimal(),
        **terms,
        **common,
    )


def from_nautilus(instrument: Instrument) -> InstrumentSpec | None:
    """The stored spec, or one described from the instrument; None for unsupported kinds."""
    info = instrument.info or {}
    stored = info.get(SPEC_KEY)
    if isinstance(stored, str):
        return InstrumentSpec.model_validate_json(stored)
    common = {
        "instrument_id": str(instrument.id),
        "currency": instrument.quote_currency.code,
        "tick_size": instrument.price_increment.as_decimal(),
        "margin_init": instrument.margin_init,
        "margin_maint": instrument.margin_maint,
        "maker_fee": instrument.maker_fee,
        "taker_fee": instrument.taker_fee,
    }
    if isinstance(instrument, Equity):
        return InstrumentSpec(asset_class=AssetClass.EQUITY, **common)
    if isinstance(instrument, FuturesContract | OptionContract):
        return _described_contract(instrument, common)
    sizes = {
        "size_increment": instrument.size_increment.as_decimal(),
        "multiplier": instrument.multiplier.as_decimal(),
    }
    if isinstance(instrument, CryptoFuture):
        return InstrumentSpec(
            asset_class=AssetClass.CRYPTO_FUTURE,
            settlement_currency=instrument.settlement_currency.code,
            is_inverse=instrument.is_inverse,
            activation_ns=instrument.activation_ns,
            expiration_ns=instrument.expiration_ns,
            base_currency=instrument.underlying.code,
            **sizes,
            **common,
        )
    sizes["base_currency"] = instrument.base_currency.code
    if isinstance(instrument, CryptoPerpetual):
        return InstrumentSpec(
            asset_class=AssetClass.CRYPTO_PERPETUAL,
            settlement_currency=instrument.settlement_currency.code,
            is_inverse=instrument.is_inverse,
            **sizes,
            **common,
        )
    if isinstance(instrument, CurrencyPair):
        crypto = CurrencyType.CRYPTO in (
            instrument.base_currency.currency_type,
            instrument.quote_currency.currency_type,
        )
        kind = AssetClass.CRYPTO_SPOT if crypto else AssetClass.FX
        return InstrumentSpec(asset_class=kind, **sizes, **common)
    return None


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
