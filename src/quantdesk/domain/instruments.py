"""Instrument definitions as the desk speaks of them, independent of any engine."""

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.numbers import FeeRate, Price, Quantity, Rate
from quantdesk.domain.text import is_whole_match, shown

INSTRUMENT_ID_MAX_LENGTH = 100
_INSTRUMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9/\-_^:]*\.[A-Za-z0-9][A-Za-z0-9_\-]*")
_CURRENCY = re.compile(r"[A-Z0-9]{2,10}")


def _currency(value: str) -> str:
    if not is_whole_match(_CURRENCY, value):
        raise ValueError(f"currency {shown(value)} is not 2-10 of A-Z, 0-9 (e.g. USD, USDT)")
    return value


Currency = Annotated[str, AfterValidator(_currency), Field(description="ISO 4217 or crypto code")]


def validate_instrument_id(value: str) -> str:
    """``SYMBOL.VENUE``: the venue is what follows the last dot."""
    if len(value) > INSTRUMENT_ID_MAX_LENGTH or not is_whole_match(_INSTRUMENT_ID, value):
        raise ValueError(
            f"instrument id {shown(value)} is not of the form SYMBOL.VENUE "
            f"(at most {INSTRUMENT_ID_MAX_LENGTH} characters, e.g. AAPL.XNAS, EUR/USD.SIM)"
        )
    return value


def require_instrument_id(value: str) -> str:
    """``validate_instrument_id`` as an input error: for an id a user names in a lookup, which
    must be refused before it reaches a catalog path or a query."""
    try:
        return validate_instrument_id(value)
    except ValueError as error:
        raise InvalidInputError(str(error)) from None


class AssetClass(StrEnum):
    EQUITY = "equity"
    FX = "fx"
    CRYPTO_SPOT = "crypto_spot"
    CRYPTO_PERPETUAL = "crypto_perpetual"


class InstrumentSpec(BaseModel):
    """What a researcher declares about a tradable instrument.

    Prices must be multiples of ``tick_size`` and sizes of ``size_increment``; the precisions
    follow from them, so the two can never disagree.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_id: str = Field(description="SYMBOL.VENUE, e.g. AAPL.XNAS or BTCUSDT-PERP.BINANCE")
    asset_class: AssetClass
    currency: Currency = Field(description="quote currency: prices are in it")
    base_currency: Currency | None = Field(
        default=None, description="base currency (FX and crypto only)"
    )
    settlement_currency: Currency | None = Field(
        default=None, description="settlement currency (crypto perpetual; default: currency)"
    )
    tick_size: Price = Field(description="minimum price increment, e.g. 0.01")
    size_increment: Quantity = Field(
        default=Decimal(1), description="minimum size increment (equities: 1)"
    )
    lot_size: Quantity | None = Field(default=None, description="board lot, if any")
    multiplier: Quantity = Decimal(1)
    is_inverse: bool = Field(default=False, description="crypto perpetual quoted inversely")
    margin_init: Rate = Field(default=Decimal(0), description="initial margin, share of notional")
    margin_maint: Rate = Field(default=Decimal(0), description="maintenance margin, share")
    maker_fee: FeeRate = Field(default=Decimal(0), description="negative: a rebate")
    taker_fee: FeeRate = Decimal(0)

    @field_validator("instrument_id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return validate_instrument_id(value)

    @model_validator(mode="after")
    def _check_class_fields(self) -> Self:
        if self.asset_class is AssetClass.EQUITY:
            if self.base_currency is not None:
                raise ValueError("an equity has no base_currency")
            if self.size_increment != 1:
                raise ValueError("equities trade in whole shares: size_increment must be 1")
        elif self.base_currency is None:
            raise ValueError(f"a {self.asset_class.value} instrument needs base_currency")
        if self.asset_class is not AssetClass.CRYPTO_PERPETUAL and (
            self.is_inverse or self.settlement_currency is not None
        ):
            raise ValueError("is_inverse and settlement_currency apply to crypto perpetuals only")
        return self

    @property
    def venue(self) -> str:
        return self.instrument_id.rsplit(".", 1)[1]

    @property
    def symbol(self) -> str:
        return self.instrument_id.rsplit(".", 1)[0]

    @property
    def price_precision(self) -> int:
        return _decimals(self.tick_size)

    @property
    def size_precision(self) -> int:
        return _decimals(self.size_increment)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite by the model's gt=0 bound
    return max(0, -exponent)
