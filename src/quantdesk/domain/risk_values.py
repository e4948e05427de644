"""What a position is worth to the risk gate, in the account's base currency, per asset class.

The gate measures every instrument on one scale: base-currency exposure per unit held (its
*unit value*), so equities, FX pairs quoted in another currency, futures and options add up
to one gross and one net exposure:

- linear instruments (equities, FX, crypto, futures): ``price x multiplier x rate``, the
  notional of one unit (a future's notional is its price times its multiplier), ``rate``
  converting the quote currency into the base currency;
- inverse crypto contracts: their face value, ``multiplier x rate`` (a contract of 1 USD is
  1 USD of exposure whatever the coin's price; its PnL is in the coin, ``pnl_currency``);
- options: the delta-adjusted notional, ``delta x underlying price x multiplier x rate``,
  negative for a put (a long put is short the underlying). What an option can lose is shown
  beside it as the *premium at risk*, ``option price x multiplier x |quantity| x rate``.

Per-asset-class limits (``AssetClassLimits``) are checked like the portfolio's over that
class's instruments only; a breach names the class as its scope (``asset_class:future``).
Every amount is in the account's base currency.
"""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain import options
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.numbers import Leverage, LimitAmount, Quantity

ASSET_CLASS_SCOPE = "asset_class:"


class AssetClassLimits(BaseModel):
    """One asset class's limits beside the portfolio's; None means no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position: Quantity | None = Field(
        default=None,
        description="largest absolute net position per instrument of the class (units)",
    )
    max_gross_exposure: LimitAmount | None = Field(
        default=None,
        description="sum over the class's instruments of |net position x unit value| "
        "(account base currency)",
    )
    max_net_exposure: LimitAmount | None = Field(
        default=None,
        description="|sum over the class's instruments of net position x unit value| "
        "(account base currency)",
    )
    max_leverage: Leverage | None = Field(
        default=None, description="the class's gross exposure / the portfolio's equity"
    )


def class_scope(asset_class: AssetClass) -> str:
    """The scope a per-class breach names, e.g. ``asset_class:future``."""
    return f"{ASSET_CLASS_SCOPE}{asset_class.value}"


def linear_unit_value(
    price: Decimal, multiplier: Decimal = Decimal(1), rate: Decimal = Decimal(1)
) -> Decimal:
    """Base-currency notional of one unit of a linear instrument (a future: price x multiplier)."""
    return price * multiplier * rate


def inverse_unit_value(multiplier: Decimal, rate: Decimal) -> Decimal:
    """Base-currency notional of one inverse contract: its face value, ``multiplier`` units of
    the quote currency (the coin it pays in is worth that much at any price)."""
    return multiplier * rate


def option_unit_value(
    delta: Decimal, underlying_price: Decimal, multiplier: Decimal, rate: Decimal
) -> Decimal:
    """Delta-adjusted notional of one option in the base currency (signed: a put's is < 0)."""
    return delta * underlying_price * multiplier * rate


def premium_per_unit(option_price: Decimal, multiplier: Decimal, rate: Decimal) -> Decimal:
    """What one option costs (and a long one can lose) in the base currency."""
    return option_price * multiplier * rate


def unit_value(
    spec: InstrumentSpec,
    price: Decimal,
    rate: Decimal,
    delta: Decimal | None = None,
    underlying_price: Decimal | None = None,
) -> Decimal:
    """The instrument's unit value at ``price`` (an option's: at its delta and underlying).

    ``rate``: one unit of the quote currency in the base currency.
    """
    if spec.asset_class is AssetClass.OPTION:
        if delta is None or underlying_price is None:
            raise ValueError(f"option {spec.instrument_id} needs its delta and underlying price")
        return option_unit_value(delta, underlying_price, spec.multiplier, rate)
    if spec.is_inverse:
        return inverse_unit_value(spec.multiplier, rate)
    return linear_unit_value(price, spec.multiplier, rate)


def pnl_currency(spec: InstrumentSpec) -> str:
    """The currency a position's PnL is in: the quote currency, an inverse contract's coin
    (its base currency)."""
    if spec.is_inverse and spec.base_currency is not None:
        return spec.base_currency
    return spec.currency


def option_delta(
    spec: InstrumentSpec,
    option_price: float,
    underlying_price: float,
    now_ns: int,
    on_future: bool,
    rate: float = 0.0,
) -> float:
    """The option's delta per unit of underlying, its volatility implied from its own price.

    Black-76 (carry 0) when the underlying is a future, Black-Scholes without dividends
    otherwise; ``rate``: the risk-free rate, 0 unless a venue or request states one. A price
    at or below what the smallest volatility gives (``SIGMA_MIN``: at most the discounted
    intrinsic value, which an option's last close can fall to against a newer close of its
    underlying, or by rounding to its tick) is valued at that volatility, where the delta is
    the intrinsic's slope; one above what the largest gives, short of the no-arbitrage
    ceiling, at ``SIGMA_MAX``. Raises ``InvalidInputError`` for an expired option or a price
    at or above the ceiling (no volatility explains it).
    """
    assert spec.option_kind is not None and spec.strike is not None  # by InstrumentSpec
    assert spec.expiration_ns is not None
    kind, k, s = spec.option_kind, float(spec.strike), underlying_price
    t = options.year_fraction(now_ns, spec.expiration_ns)
    b = options.FUTURE_CARRY if on_future else options.stock_carry(rate)
    return options.implied_delta(option_price, kind, s=s, k=k, t=t, r=rate, b=b)
