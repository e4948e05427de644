"""Instrument definitions as the desk speaks of them, independent of any engine."""

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from quantdesk.domain.contract_terms import (
    ContractTime,
    ExerciseStyle,
    OptionKind,
    UnderlyingClass,
)
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
    FUTURE = "future"
    OPTION = "option"
    CRYPTO_FUTURE = "crypto_future"


DATED = frozenset({AssetClass.FUTURE, AssetClass.OPTION, AssetClass.CRYPTO_FUTURE})
"""Contracts with an expiry: the engine refuses orders outside activation..expiration."""
_CONTRACTS = frozenset({AssetClass.FUTURE, AssetClass.OPTION})
"""Exchange-traded contracts in whole units, with an underlying and an explicit multiplier."""
_WITH_BASE = frozenset(
    {AssetClass.FX, AssetClass.CRYPTO_SPOT, AssetClass.CRYPTO_PERPETUAL, AssetClass.CRYPTO_FUTURE}
)
_CRYPTO_DERIVATIVES = frozenset({AssetClass.CRYPTO_PERPETUAL, AssetClass.CRYPTO_FUTURE})
_OPTION_FIELDS = ("option_kind", "strike", "exercise_style")


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
        default=None, description="base currency (FX and crypto; a crypto future's underlying)"
    )
    settlement_currency: Currency | None = Field(
        default=None,
        description="settlement currency (crypto perpetual and future; default: currency)",
    )
    tick_size: Price = Field(description="minimum price increment, e.g. 0.01")
    size_increment: Quantity = Field(
        default=Decimal(1), description="minimum size increment (equities: 1)"
    )
    lot_size: Quantity | None = Field(default=None, description="board lot, if any")
    multiplier: Quantity = Field(
        default=Decimal(1),
        description="units of the underlying per contract (futures and options: required)",
    )
    is_inverse: bool = Field(
        default=False, description="crypto perpetual or future quoted inversely"
    )
    underlying: str | None = Field(
        default=None,
        max_length=INSTRUMENT_ID_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9/\-_^:.]*$",
        description="future: the underlying's symbol (its contracts' root, e.g. ES); "
        "option: the underlying instrument's id (e.g. AAPL.XNAS or ESH4.XCME)",
    )
    underlying_class: UnderlyingClass | None = Field(
        default=None, description="future or option: what it is on (option default: equity)"
    )
    exchange: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9]{2,10}$",
        description="future or option: the listing exchange's MIC (default: the venue)",
    )
    activation_ns: ContractTime | None = Field(
        default=None, description="dated contracts: first instant it trades (default: 0)"
    )
    expiration_ns: ContractTime | None = Field(
        default=None, description="dated contracts: the instant it expires and settles"
    )
    option_kind: OptionKind | None = None
    strike: Price | None = Field(default=None, description="option strike, in currency")
    exercise_style: ExerciseStyle | None = Field(
        default=None, description="option: european (default) or american"
    )
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
        kind = self.asset_class
        if kind in _WITH_BASE and self.base_currency is None:
            what = "an underlying currency" if kind is AssetClass.CRYPTO_FUTURE else "base_currency"
            raise ValueError(f"a {kind.value} instrument needs {what} (base_currency)")
        if kind not in _WITH_BASE and self.base_currency is not None:
            raise ValueError(f"a {kind.value} has no base_currency")
        if kind is AssetClass.EQUITY and self.size_increment != 1:
            raise ValueError("equities trade in whole shares: size_increment must be 1")
        if kind not in _CRYPTO_DERIVATIVES and (
            self.is_inverse or self.settlement_currency is not None
        ):
            raise ValueError(
                "is_inverse and settlement_currency apply to crypto perpetuals and futures only"
            )
        self._check_contract_fields()
        return self

    def _check_contract_fields(self) -> None:
        kind = self.asset_class
        if kind in DATED:
            if self.expiration_ns is None:
                raise ValueError(f"a {kind.value} needs expiration_ns (e.g. 2024-03-15T13:30:00Z)")
            if self.activation_ns is not None and self.activation_ns >= self.expiration_ns:
                raise ValueError("activation_ns must be before expiration_ns")
        elif self.expiration_ns is not None or self.activation_ns is not None:
            raise ValueError(f"a {kind.value} has no activation or expiration")
        if kind in _CONTRACTS:
            noun = f"a {kind.value}"
            if self.underlying is None:
                raise ValueError(f"{noun} needs its underlying")
            if "multiplier" not in self.model_fields_set:
                raise ValueError(f"{noun} needs its multiplier (e.g. ES futures: 50)")
            if self.size_increment != 1 or self.lot_size not in (None, Decimal(1)):
                raise ValueError(f"{noun} trades in whole contracts: size_increment must be 1")
        else:
            for name in ("underlying", "underlying_class", "exchange"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} applies to futures and options only")
        if kind is AssetClass.FUTURE and self.underlying_class is None:
            raise ValueError(
                "a future needs underlying_class (one of "
                f"{', '.join(c.value for c in UnderlyingClass)})"
            )
        if kind is AssetClass.OPTION:
            assert self.underlying is not None
            validate_instrument_id(self.underlying)
            if self.option_kind is None or self.strike is None:
                raise ValueError("an option needs option_kind (call or put) and strike")
        else:
            for name in _OPTION_FIELDS:
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} applies to options only")

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

    @property
    def is_dated(self) -> bool:
        return self.asset_class in DATED

    @property
    def contract_class(self) -> UnderlyingClass:
        """A future's or option's underlying class (an option on an unnamed one: equity)."""
        return self.underlying_class or UnderlyingClass.EQUITY

    @property
    def style(self) -> ExerciseStyle:
        return self.exercise_style or ExerciseStyle.EUROPEAN


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite by the model's gt=0 bound
    return max(0, -exponent)
