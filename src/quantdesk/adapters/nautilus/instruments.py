"""Instrument specs to NautilusTrader instruments and back, losslessly.

The spec travels inside the instrument's ``info`` so reading it back gives the very spec that
was stored; instruments written by other tools are described from their own fields.
"""

from decimal import Decimal

from nautilus_trader.model.enums import CurrencyType
from nautilus_trader.model.identifiers import InstrumentId, Symbol
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair, Equity, Instrument
from nautilus_trader.model.objects import Currency, Price, Quantity

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec

SPEC_KEY = "quantdesk_spec"


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
    sizes = {
        "size_increment": instrument.size_increment.as_decimal(),
        "multiplier": instrument.multiplier.as_decimal(),
        "base_currency": instrument.base_currency.code,
    }
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
