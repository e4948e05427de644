"""What a position is worth to the risk gate, in the account's base currency, per asset class.

The gate measures every instrument on one scale: base-currency exposure per unit held (its
*unit value*), so equities, FX pairs quoted in another currency, futures and options add up
to one gross and one net exposure:

- linear instruments (equities, FX, crypto, futures): ``price x multiplier x rate``, the
  notional of one unit (a future's notional is its price times its multiplier), ``rate``
  converting the quote currency into the base currency;
- inverse crypto contracts, whose notional is in their base coin: ``multiplier / price x rate``
  (``rate`` from the coin);
- options: the delta-adjusted notional, ``delta x underlying price x multiplier x rate``,
  negative for a put (a long put is short the underlying). What an option can lose is shown
  beside it as the *premium at risk*, ``option price x multiplier x |quantity| x rate``.

Per-asset-class limits (``AssetClassLimits``) are checked like the portfolio's over that
class's instruments only; a breach names the class as its scope (``asset_class:future``).
Every amount is in the account's base currency.
"""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.instruments import AssetClass
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


def inverse_unit_value(price: Decimal, multiplier: Decimal, rate: Decimal) -> Decimal:
    """Base-currency notional of one inverse contract (``multiplier`` quote units of the coin:
    ``multiplier / price`` coins, ``rate`` from the coin)."""
    return multiplier / price * rate


def option_unit_value(
    delta: Decimal, underlying_price: Decimal, multiplier: Decimal, rate: Decimal
) -> Decimal:
    """Delta-adjusted notional of one option in the base currency (signed: a put's is < 0)."""
    return delta * underlying_price * multiplier * rate


def premium_per_unit(option_price: Decimal, multiplier: Decimal, rate: Decimal) -> Decimal:
    """What one option costs (and a long one can lose) in the base currency."""
    return option_price * multiplier * rate
